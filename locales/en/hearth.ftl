# hearth's words in English. One message per line a person reads; the Persian file
# (locales/fa/hearth.ftl) has the same ids.
widget-online = We are online
widget-away = We are away
widget-your-message = Your message
widget-your-email = Your email (optional, for a reply by mail)
widget-start = Start the conversation
widget-sign-in = Sign in on this site to chat with us.
widget-write = Write a message
widget-message = Message
widget-send = Send
widget-email = Email
widget-save = Save
widget-connecting = Connecting…
widget-email-saved = Thanks: we will write to { $email }.

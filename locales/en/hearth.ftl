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

# The page frame around signed-in pages that speak the person's language.
shell-skip = Skip to content
shell-online = online
shell-online-title = People online on hearth
shell-connecting = Connecting…
shell-no-live = Live updates need JavaScript: reload to see what is new.
shell-search = Search  /
shell-search-label = Search messages
shell-people = People
shell-settings = Your settings
shell-log-out = Log out
shell-menu = Menu

# The operators' inbox.
inbox-title = Inbox
inbox-no-site = You answer for no site yet.
inbox-sites-page = An administrator can make you an operator on the sites page.
inbox-visitors-of = Visitors of { $sites }.
inbox-canned = Canned replies
inbox-analytics = Analytics
inbox-views = Conversations
inbox-view-open = Open
inbox-view-mine = Assigned to me
inbox-view-unassigned = Unassigned
inbox-view-closed = Closed
inbox-nothing = Nothing here.
inbox-waiting = { $count } waiting
inbox-first-seen = first seen
inbox-last-seen = last seen
inbox-assigned-to = assigned to @{ $name }
inbox-unassigned = unassigned
inbox-closed = closed
inbox-back = ← Inbox
inbox-on = on
inbox-status-open = Open
inbox-status-closed = Closed
inbox-assign-to = Assign to
inbox-nobody = nobody
inbox-assign = Assign
inbox-close = Close
inbox-reopen = Reopen
inbox-transcript = Transcript
inbox-mail-transcript = Email the transcript to { $email }
inbox-mail-sent = The transcript is on its way.

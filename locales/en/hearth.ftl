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
inbox-typing = { $name } is typing…
inbox-typing-two = { $first } and { $second } are typing…
inbox-typing-many = several people are typing…
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

# Canned replies (/inbox/replies and the conversation's picker).
canned-title = Canned replies
canned-hint = Type / and the shortcut in a visitor's conversation to use one.
canned-site = Site
canned-shortcut = Shortcut
canned-reply = Reply
canned-add = Add the reply
canned-none = No replies yet.
canned-delete = Delete
canned-delete-named = Delete /{ $shortcut }
canned-picker = Canned replies ({ $count })
canned-picker-none = None yet:
canned-picker-add = add one

# Inbox analytics (/inbox/analytics).
analytics-title = Inbox analytics
analytics-utc = days in UTC
analytics-period = Period
analytics-last-days = Last { $days } days
analytics-site = Site
analytics-all-sites = All sites
analytics-conversations = Conversations
analytics-first-reply = Median time to first reply
analytics-close = Median time to close
analytics-chart-conversations = Conversations per day
analytics-chart-first-reply = Median time to first reply per day
analytics-chart-close = Median time to close per day
analytics-csv = Download as CSV

# واژه‌های hearth به فارسی؛ شناسه‌ها همان‌های locales/en/hearth.ftl هستند.
widget-online = ما آنلاین هستیم
widget-away = اکنون در دسترس نیستیم
widget-your-message = پیام شما
widget-your-email = ایمیل شما (اختیاری، برای پاسخ با ایمیل)
widget-start = شروع گفتگو
widget-sign-in = برای گفتگو با ما، در این سایت وارد شوید.
widget-write = پیامی بنویسید
widget-message = پیام
widget-send = ارسال
widget-email = ایمیل
widget-save = ذخیره
widget-connecting = در حال اتصال…
widget-email-saved = سپاس! به { $email } می‌نویسیم.

# The page frame around signed-in pages that speak the person's language.
shell-skip = رفتن به محتوا
shell-online = آنلاین
shell-online-title = افراد آنلاین در hearth
shell-connecting = در حال اتصال…
shell-no-live = به‌روزرسانی زنده به جاوااسکریپت نیاز دارد: برای دیدن تازه‌ها صفحه را دوباره بارگذاری کنید.
shell-search = جستجو  /
shell-search-label = جستجوی پیام‌ها
shell-people = افراد
shell-settings = تنظیمات شما
shell-log-out = خروج
shell-menu = منو

# The operators' inbox.
inbox-title = صندوق گفتگوها
inbox-no-site = هنوز پاسخگوی هیچ سایتی نیستید.
inbox-sites-page = مدیر می‌تواند شما را در صفحهٔ سایت‌ها پاسخگو کند.
inbox-visitors-of = بازدیدکنندگان { $sites }.
inbox-canned = پاسخ‌های آماده
inbox-analytics = آمار
inbox-views = گفتگوها
inbox-view-open = باز
inbox-view-mine = واگذارشده به من
inbox-view-unassigned = واگذارنشده
inbox-view-closed = بسته
inbox-nothing = چیزی اینجا نیست.
inbox-waiting = { $count } در انتظار
inbox-first-seen = اولین بازدید
inbox-last-seen = آخرین بازدید
inbox-assigned-to = واگذارشده به ‎@{ $name }
inbox-unassigned = واگذارنشده
inbox-closed = بسته
inbox-typing = { $name } در حال نوشتن است…
inbox-typing-two = { $first } و { $second } در حال نوشتن هستند…
inbox-typing-many = چند نفر در حال نوشتن هستند…
inbox-back = → صندوق گفتگوها
inbox-on = در
inbox-status-open = باز
inbox-status-closed = بسته
inbox-assign-to = واگذاری به
inbox-nobody = هیچ‌کس
inbox-assign = واگذار کن
inbox-close = بستن
inbox-reopen = بازگشایی
inbox-transcript = متن گفتگو
inbox-mail-transcript = ارسال متن گفتگو به { $email }
inbox-mail-sent = متن گفتگو در راه است.

# Canned replies (/inbox/replies and the conversation's picker).
canned-title = پاسخ‌های آماده
canned-hint = برای به‌کاربردن یکی، در گفتگوی بازدیدکننده / و میان‌بر آن را بنویسید.
canned-site = سایت
canned-shortcut = میان‌بر
canned-reply = پاسخ
canned-add = افزودن پاسخ
canned-none = هنوز پاسخی نیست.
canned-delete = حذف
canned-delete-named = حذف ‎/{ $shortcut }
canned-picker = پاسخ‌های آماده ({ $count })
canned-picker-none = هنوز هیچ:
canned-picker-add = یکی بیفزایید

# Inbox analytics (/inbox/analytics).
analytics-title = آمار صندوق گفتگوها
analytics-utc = روزها به وقت UTC
analytics-period = بازه
analytics-last-days = { $days } روز گذشته
analytics-site = سایت
analytics-all-sites = همهٔ سایت‌ها
analytics-conversations = گفتگوها
analytics-first-reply = میانهٔ زمان تا نخستین پاسخ
analytics-close = میانهٔ زمان تا بستن
analytics-chart-conversations = گفتگوها در هر روز
analytics-chart-first-reply = میانهٔ زمان تا نخستین پاسخ در هر روز
analytics-chart-close = میانهٔ زمان تا بستن در هر روز
analytics-csv = دریافت به صورت CSV

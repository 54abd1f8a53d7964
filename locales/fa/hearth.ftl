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

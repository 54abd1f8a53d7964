//! Sending email through the SMTP server `--smtp-url` names (`smtp://host:port` plain,
//! `smtp://…?tls=required` for STARTTLS, `smtps://` for TLS, as lettre reads them).
//! It owns the connection and the sender's address; what a mail says is its caller's.
//! Without `--smtp-url` there is no [`Mailer`], and nothing offers to send email.
use std::time::Duration;

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};

/// How long one exchange with the SMTP server may take: a dead server answers a
/// person within seconds, and a mail that cannot go is given up, not retried for ever.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// What an operator says about email.
#[derive(Clone, Debug)]
pub struct MailSettings {
    /// `smtp://…` or `smtps://…`; `None`: hearth sends no email.
    pub smtp_url: Option<String>,
    /// The `From:` of what hearth sends, e.g. `hearth <hearth@example.com>`.
    pub from: String,
    /// The site's address as people reach it (`https://chat.example.com`), which links
    /// in email start with; `None`: the `Host` the request came to.
    pub public_url: Option<String>,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "hearth <hearth@localhost>".to_owned(),
            public_url: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the SMTP URL cannot be used: {0}")]
    Url(String),
    #[error("the sender's address cannot be used: {0}")]
    From(String),
    #[error("the mail cannot be written: {0}")]
    Message(String),
    #[error("the SMTP server did not take the mail: {0}")]
    Smtp(String),
}

/// The SMTP server and who mail comes from.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mailer(from {})", self.from)
    }
}

impl Mailer {
    /// The mailer `settings` ask for; `None` when they name no SMTP server.
    pub fn from_settings(settings: &MailSettings) -> Result<Option<Self>, MailError> {
        let Some(url) = settings
            .smtp_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        else {
            return Ok(None);
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.trim())
            .map_err(|e| MailError::Url(e.to_string()))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        let from = settings
            .from
            .parse::<Mailbox>()
            .map_err(|e| MailError::From(e.to_string()))?;
        Ok(Some(Self { transport, from }))
    }

    /// Whether the SMTP server answers now, asked for at most a few seconds.
    pub async fn reachable(&self) -> bool {
        let asked = tokio::time::timeout(Duration::from_secs(5), self.transport.test_connection());
        matches!(asked.await, Ok(Ok(true)))
    }

    /// Sends `text` to `to` under `subject`.
    pub async fn send(&self, to: &str, subject: &str, text: String) -> Result<(), MailError> {
        let to = to
            .parse::<Mailbox>()
            .map_err(|e| MailError::Message(e.to_string()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(text)
            .map_err(|e| MailError::Message(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map_err(|e| MailError::Smtp(e.to_string()))?;
        Ok(())
    }
}

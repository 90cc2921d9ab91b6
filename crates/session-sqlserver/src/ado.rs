//! The ADO.NET connection string, read before tiberius reads it, for what tiberius gets
//! wrong or would panic on.

use connection_string::AdoNetString;
use deadpool_tiberius::tiberius::EncryptionLevel;
use session_core::{Error, Result};

/// What the manager adds to tiberius's reading of a connection string.
#[derive(Debug)]
pub(crate) struct Settings {
    /// `Some(Required)` when the string does not say `Encrypt`: the whole connection is
    /// encrypted, as with Microsoft.Data.SqlClient 4 and later, where tiberius would
    /// encrypt only the login.
    pub encryption: Option<EncryptionLevel>,
}

/// Reads `connection_string`.
///
/// # Errors
/// [`Error::Config`] if it cannot be parsed, or sets `TrustServerCertificate=true` (or
/// `yes`) together with `TrustServerCertificateCA` (tiberius panics on that). Messages never
/// repeat the string.
pub(crate) fn read(connection_string: &str) -> Result<Settings> {
    let settings: AdoNetString = connection_string
        .parse()
        .map_err(|e| Error::Config(format!("invalid SQL Server connection string: {e}")))?;
    // tiberius's reading of a boolean
    let trust_all = settings
        .get("trustservercertificate")
        .is_some_and(|v| matches!(v.trim().to_lowercase().as_str(), "true" | "yes"));
    if trust_all && settings.contains_key("trustservercertificateca") {
        return Err(Error::Config(
            "SQL Server connection string: give TrustServerCertificate=true or TrustServerCertificateCA, not both"
                .to_owned(),
        ));
    }
    Ok(Settings {
        encryption: (!settings.contains_key("encrypt")).then_some(EncryptionLevel::Required),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn encryption_is_required_unless_the_string_says_otherwise() {
        let unsaid = read("Server=tcp:db,1433;User Id=u;Password=p;TrustServerCertificate=true").unwrap();
        assert!(matches!(unsaid.encryption, Some(EncryptionLevel::Required)));
        for said in ["Encrypt=false", "encrypt=DANGER_PLAINTEXT", "ENCRYPT=true"] {
            let settings = read(&format!("Server=tcp:db,1433;{said}")).unwrap();
            assert!(settings.encryption.is_none(), "{said}");
        }
    }

    #[test]
    fn trusting_every_certificate_and_a_ca_is_a_config_error_not_a_panic() {
        for trust in ["true", " YES"] {
            let text = format!("Server=db;TrustServerCertificate={trust};TrustServerCertificateCA=/ca.pem");
            let error = read(&text).unwrap_err();
            assert!(
                matches!(&error, Error::Config(m) if m.contains("not both")),
                "{error}"
            );
        }
        // not trusting every certificate, with a private CA, is fine
        assert!(
            read("Server=db;Encrypt=True;TrustServerCertificate=False;TrustServerCertificateCA=/ca.pem")
                .is_ok()
        );
    }

    #[test]
    fn errors_do_not_repeat_the_string() {
        let error = read("Server=db;Password='secret").unwrap_err();
        assert!(matches!(&error, Error::Config(_)), "{error}");
        assert!(!error.to_string().contains("secret"), "{error}");
    }

    #[test]
    fn odd_connection_strings_are_errors_or_managers_never_panics() {
        for text in [
            "",
            ";;;",
            "Server=",
            "Server=,",
            "Server=tcp:",
            "Server=tcp:,",
            "Server=a\\",
            "Server=\\",
            "Server=a\\b\\c",
            "Server=a,99999",
            "Server=a,1,2",
            "Server=a,-1",
            "Server=(local)",
            "Server=a;Encrypt=maybe",
            "Server=a;TrustServerCertificate=maybe",
            "Server=a;Integrated Security=true",
            "Server=a;User Id=;Password=",
            "Server='a;b'",
            "Server=\"",
            "Server={a",
            "Server=a;ApplicationIntent=ReadOnly;Database=",
            "=x",
            "Server=a;=",
        ] {
            let result = std::panic::catch_unwind(|| crate::SqlManager::from_ado_string(text).is_ok());
            assert!(result.is_ok(), "panicked on {text:?}");
        }
    }
}

//! Where to connect: a Redis URL as it is, or a StackExchange.Redis configuration string
//! (what ASP.NET apps and the seed's `Add-KrDistributedRedisCache -Configuration` take:
//! `localhost:6379`, `name.redis.cache.windows.net:6380,password=...,ssl=True`) turned
//! into one.

/// A Redis URL, and the configuration-string options that were skipped because they
/// have no counterpart here.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Address {
    pub url: String,
    pub ignored: Vec<String>,
}

/// StackExchange.Redis options about client-side timing and behaviour: the cache's own
/// `connect_timeout` and the engine's `io_timeout` govern those, so they are skipped.
const IGNORED: [&str; 11] = [
    "abortconnect",
    "allowadmin",
    "asynctimeout",
    "checkcertificaterevocation",
    "configcheckseconds",
    "connectretry",
    "connecttimeout",
    "keepalive",
    "name",
    "resolvedns",
    "synctimeout",
];

/// Whether `url` asks for TLS (`rediss://`, `valkeys://`).
pub(crate) fn is_tls(url: &str) -> bool {
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    scheme.eq_ignore_ascii_case("rediss") || scheme.eq_ignore_ascii_case("valkeys")
}

/// `config` as a Redis URL. Anything with `://` is taken as a URL already (redis-rs
/// checks it); anything else is read as a configuration string: one `host[:port]`
/// (port 6379, or 6380 with `ssl=true`) and `key=value` options `password`, `user`,
/// `ssl`, `defaultDatabase`, plus the skipped ones of [`IGNORED`].
///
/// # Errors
/// A message naming what is wrong: no host or several, a bad port, a bad value, an
/// option this store does not know.
pub(crate) fn parse(config: &str) -> Result<Address, String> {
    let config = config.trim();
    if config.contains("://") {
        return Ok(Address {
            url: config.to_owned(),
            ignored: Vec::new(),
        });
    }
    let mut endpoint = None;
    let (mut user, mut password, mut ssl, mut database) = (None, None, false, None);
    let mut ignored = Vec::new();
    for part in config.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = part.split_once('=') else {
            if endpoint.replace(part).is_some() {
                return Err(format!(
                    "the Redis configuration string `{}` names several endpoints; give one (cluster and sentinel setups are not supported)",
                    redact(config)
                ));
            }
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match key.to_ascii_lowercase().as_str() {
            "password" => password = Some(value),
            "user" => user = Some(value),
            "ssl" => ssl = parse_bool(key, value)?,
            "defaultdatabase" => {
                database = Some(
                    value
                        .parse::<u32>()
                        .map_err(|_| format!("`{key}={value}` is not a database number"))?,
                );
            }
            lower if IGNORED.contains(&lower) => ignored.push(key.to_owned()),
            _ => {
                return Err(format!(
                    "unknown option `{key}` in the Redis configuration string"
                ))
            }
        }
    }
    let Some(endpoint) = endpoint else {
        return Err("the Redis configuration string names no host".to_owned());
    };
    let (host, port) = split_endpoint(endpoint)?;
    let mut url = String::from(if ssl { "rediss://" } else { "redis://" });
    if user.is_some() || password.is_some() {
        url.push_str(&percent_encode(user.unwrap_or_default()));
        if let Some(password) = password {
            url.push(':');
            url.push_str(&percent_encode(password));
        }
        url.push('@');
    }
    url.push_str(&host);
    url.push(':');
    url.push_str(&port.unwrap_or(if ssl { 6380 } else { 6379 }).to_string());
    if let Some(database) = database {
        url.push('/');
        url.push_str(&database.to_string());
    }
    Ok(Address { url, ignored })
}

fn parse_bool(key: &str, value: &str) -> Result<bool, String> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(format!("`{key}={value}` is neither true nor false"))
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address, as the URL's host
/// (IPv6 in brackets) and the port if one is given.
fn split_endpoint(endpoint: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = endpoint.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("`{endpoint}` lacks the closing `]`"))?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').unwrap_or(after)),
        };
        (format!("[{v6}]"), port)
    } else if endpoint.matches(':').count() > 1 {
        (format!("[{endpoint}]"), None)
    } else {
        match endpoint.split_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (endpoint.to_owned(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err(format!("`{endpoint}` names no host"));
    }
    let port = port
        .map(|p| {
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("`{p}` in `{endpoint}` is not a port"))
        })
        .transpose()?;
    Ok((host, port))
}

/// Everything but RFC 3986's unreserved characters, percent-encoded (for the user name
/// and password of the URL; redis-rs decodes them).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The configuration string with option values blanked, for error messages (a
/// password must not reach the logs).
fn redact(config: &str) -> String {
    config
        .split(',')
        .map(|part| match part.split_once('=') {
            Some((key, _)) => format!("{key}=..."),
            None => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::{is_tls, parse, Address};

    fn url(config: &str) -> String {
        match parse(config) {
            Ok(address) => address.url,
            Err(message) => panic!("{config}: {message}"),
        }
    }

    fn error(config: &str) -> String {
        match parse(config) {
            Ok(address) => panic!("{config} was accepted as {}", address.url),
            Err(message) => message,
        }
    }

    #[test]
    fn urls_are_taken_as_they_are() {
        for given in [
            "redis://127.0.0.1:6379",
            "rediss://:pw@cache:6380/2",
            "redis+unix:///run/redis.sock",
        ] {
            assert_eq!(url(given), given);
        }
        assert_eq!(url("  redis://h:1  "), "redis://h:1");
    }

    #[test]
    fn the_seeds_host_and_port_become_a_url() {
        assert_eq!(url("localhost:6379"), "redis://localhost:6379");
        assert_eq!(url("localhost"), "redis://localhost:6379");
        assert_eq!(url("10.0.0.5:7000"), "redis://10.0.0.5:7000");
        assert_eq!(url("[::1]:7000"), "redis://[::1]:7000");
        assert_eq!(url("[::1]"), "redis://[::1]:6379");
        assert_eq!(url("::1"), "redis://[::1]:6379");
    }

    #[test]
    fn an_azure_style_string_keeps_its_password_and_tls() {
        let address = parse("name.redis.cache.windows.net:6380,password=a/b+c=,ssl=True,abortConnect=False");
        assert_eq!(
            address,
            Ok(Address {
                url: "rediss://:a%2Fb%2Bc%3D@name.redis.cache.windows.net:6380".to_owned(),
                ignored: vec!["abortConnect".to_owned()],
            })
        );
        assert_eq!(url("cache,ssl=true"), "rediss://cache:6380");
        assert_eq!(url("cache,SSL=false"), "redis://cache:6379");
    }

    #[test]
    fn user_and_database_are_carried_over() {
        assert_eq!(
            url("cache:6379,user=app,password=p w,defaultDatabase=3"),
            "redis://app:p%20w@cache:6379/3"
        );
        assert_eq!(url("cache,user=app"), "redis://app@cache:6379");
    }

    #[test]
    fn what_cannot_be_honoured_is_refused_by_name() {
        assert!(error("").contains("no host"));
        assert!(error("password=x").contains("no host"));
        assert!(error("a:1,b:2").contains("several endpoints"));
        assert!(error("cache,serviceName=m").contains("`serviceName`"));
        assert!(error("cache:notaport").contains("not a port"));
        assert!(error("cache:0").contains("not a port"));
        assert!(error("cache,ssl=maybe").contains("neither true nor false"));
        assert!(error("cache,defaultDatabase=x").contains("not a database number"));
        assert!(error("[::1:6379").contains("closing"));
    }

    #[test]
    fn errors_never_show_the_password() {
        let message = error("a:1,b:2,password=hunter2");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn tls_is_read_from_the_scheme() {
        assert!(is_tls("rediss://h:6380"));
        assert!(is_tls("REDISS://h"));
        assert!(is_tls("valkeys://h"));
        assert!(!is_tls("redis://h"));
        assert!(!is_tls("cache:6380"));
    }
}

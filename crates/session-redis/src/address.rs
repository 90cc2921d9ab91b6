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
const IGNORED: [&str; 12] = [
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
    "sslprotocols",
    "synctimeout",
];

/// StackExchange.Redis options this store cannot honour (named in the error). Any other
/// `key=value` is not named: it may be the tail of a password that holds a `,`.
const UNSUPPORTED: [&str; 12] = [
    "channelprefix",
    "configchannel",
    "heartbeatinterval",
    "highprioritysocketthreads",
    "protocol",
    "proxy",
    "responsetimeout",
    "servicename",
    "setlib",
    "sslhost",
    "tiebreaker",
    "tunnel",
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
    if has_scheme(config) {
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
                return Err(SEVERAL_ENDPOINTS.to_owned());
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
            lower if UNSUPPORTED.contains(&lower) => {
                return Err(format!(
                    "the Redis configuration string option `{key}` is not supported"
                ))
            }
            _ => return Err(UNKNOWN_OPTION.to_owned()),
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
    if !valid_host(&host) {
        return Err(format!("`{endpoint}` is not a host name or IP address"));
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

const SEVERAL_ENDPOINTS: &str = "the Redis configuration string names more than one endpoint; \
give one (for a Redis Cluster or Sentinel, use `RedisCacheOptions::cluster` or `::sentinel`; a \
password holding a `,` must be given in a redis:// URL, percent-encoded)";

const UNKNOWN_OPTION: &str = "the Redis configuration string holds a `key=value` option this \
store does not know (not shown: it may be part of a password; a password holding a `,` must \
be given in a redis:// URL, percent-encoded)";

/// Whether `config` starts with a URL scheme (`redis://`, `redis+unix://`, ...), so a
/// `://` inside a password of a configuration string does not count.
fn has_scheme(config: &str) -> bool {
    config.split_once("://").is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    })
}

/// Host names and IPv4 addresses: letters, digits, `-`, `.`, `_`; IPv6 in brackets:
/// hex digits, `:` and `.`. Anything else (`@`, `/`, `#`, ...) would change the URL.
fn valid_host(host: &str) -> bool {
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => !v6.is_empty() && v6.chars().all(|c| c.is_ascii_hexdigit() || ":.".contains(c)),
        None => {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
        }
    }
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
    fn client_side_tuning_is_skipped() {
        let address = parse("cache,sslProtocols=Tls12,connectTimeout=5000");
        assert_eq!(
            address.map(|a| a.ignored),
            Ok(vec!["sslProtocols".to_owned(), "connectTimeout".to_owned()])
        );
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
        assert!(error("a:1,b:2").contains("more than one endpoint"));
        assert!(error("cache,serviceName=m").contains("`serviceName`"));
        assert!(error("cache,whatever=1").contains("does not know"));
        assert!(error("cache:notaport").contains("not a port"));
        assert!(error("cache:0").contains("not a port"));
        assert!(error("cache,ssl=maybe").contains("neither true nor false"));
        assert!(error("cache,defaultDatabase=x").contains("not a database number"));
        assert!(error("[::1:6379").contains("closing"));
        assert!(error("u@cache:6379,password=pw").contains("not a host"));
        assert!(error("cache/0").contains("not a host"));
        assert!(error("[zz]:1").contains("not a host"));
        assert!(error("[]:1").contains("not a host"));
    }

    #[test]
    fn errors_never_show_the_password() {
        for config in [
            "a:1,b:2,password=hunter2",
            "cache,password=hun,ter2",
            "cache,password=hun,secret=ter2",
        ] {
            let message = error(config);
            assert!(
                !message.contains("ter2") && !message.contains("secret"),
                "{message}"
            );
        }
    }

    #[test]
    fn a_scheme_inside_a_password_does_not_make_a_url() {
        assert_eq!(url("cache,password=p://x"), "redis://:p%3A%2F%2Fx@cache:6379");
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

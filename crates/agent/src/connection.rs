//! Editing the connection from the app: the SBC, the SIP account and the
//! Microsoft 365 tenant go into the configuration file (its comments and
//! every other setting kept), the SIP password into the keyring. Nothing is
//! written unless the whole file still validates, and a setting the
//! administrator locked is refused. The new settings apply at the next
//! start; with no file yet (the embedded lab), saving creates the user's
//! file, and the app starts on the real SBC from then on.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::config::{Config, Setting};

/// What the settings screen edits.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
pub struct ConnectionSettings {
    /// SBC WebSocket URLs in failover order.
    pub servers: Vec<String>,
    /// The address of record, `sip:user@domain`.
    pub user: String,
    /// The digest authorization user.
    pub auth_user: String,
    /// The name callees see.
    pub display_name: Option<String>,
    /// An outbound proxy URI.
    pub outbound_proxy: Option<String>,
    /// The Microsoft 365 tenant (GUID or domain); empty leaves it as is.
    pub tenant: Option<String>,
    /// The app registration's client id; empty leaves it as is.
    pub client_id: Option<String>,
}

/// The connection settings and where they live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct ConnectionView {
    /// The settings now in the file (empty when there is none).
    pub settings: ConnectionSettings,
    /// The configuration file they are saved to.
    pub file: String,
    /// Whether the administrator locked them (the form is read-only).
    pub locked: bool,
    /// Whether this is the answer to a save (restart to use them).
    pub saved: bool,
}

impl ConnectionSettings {
    /// The settings of a loaded configuration.
    pub fn of(config: &Config) -> Self {
        ConnectionSettings {
            servers: config.sip.servers.clone(),
            user: config.sip.user.clone(),
            auth_user: config.sip.auth_user.clone(),
            display_name: config.sip.display_name.clone(),
            outbound_proxy: config.sip.outbound_proxy.clone(),
            tenant: config.microsoft365.as_ref().map(|m| m.tenant.clone()),
            client_id: config.microsoft365.as_ref().map(|m| m.client_id.clone()),
        }
    }
}

/// The user's configuration file, where a save goes when there is no file.
pub fn user_file() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("warmline").join("warmline.toml"))
}

/// The current view of `path` (which may not exist yet).
pub fn view(path: &Path) -> Result<ConnectionView, Error> {
    let (settings, locked) = if path.exists() {
        let config = Config::load(path).map_err(|e| Error::Config(e.to_string()))?;
        (ConnectionSettings::of(&config), config.is_locked(Setting::Sip))
    } else {
        (ConnectionSettings::default(), false)
    };
    Ok(ConnectionView { settings, file: path.display().to_string(), locked, saved: false })
}

/// `text` (a configuration file, possibly empty) with `settings` written
/// in, validated as a whole. Comments, order and every other key stay.
pub fn edit(path: &Path, text: &str, settings: &ConnectionSettings) -> Result<(String, Config), Error> {
    let invalid = |what: String| Error::Config(what);
    let mut doc: toml_edit::DocumentMut =
        text.parse().map_err(|e| invalid(format!("{}: not valid TOML: {e}", path.display())))?;
    if let Ok(old) = Config::parse(path, text)
        && old.is_locked(Setting::Sip)
    {
        return Err(invalid("the administrator locked the connection settings".into()));
    }
    let servers: Vec<&str> = settings.servers.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
    let sip = table(&mut doc, "sip");
    let mut list = toml_edit::Array::new();
    for s in &servers {
        list.push(*s);
    }
    sip["servers"] = toml_edit::value(list);
    sip["user"] = toml_edit::value(settings.user.trim());
    sip["auth_user"] = toml_edit::value(settings.auth_user.trim());
    set_or_remove(sip, "display_name", settings.display_name.as_deref());
    set_or_remove(sip, "outbound_proxy", settings.outbound_proxy.as_deref());
    let tenant = settings.tenant.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let client = settings.client_id.as_deref().map(str::trim).filter(|c| !c.is_empty());
    if let (Some(tenant), Some(client)) = (tenant, client) {
        let m365 = table(&mut doc, "microsoft365");
        m365["tenant"] = toml_edit::value(tenant);
        m365["client_id"] = toml_edit::value(client);
    } else if tenant.is_some() != client.is_some() {
        return Err(invalid("Microsoft 365 needs both the tenant and the client id".into()));
    }
    let out = doc.to_string();
    let config = Config::parse(path, &out).map_err(|e| invalid(e.to_string()))?;
    Ok((out, config))
}

/// Writes `settings` into `path` (created if missing, replaced atomically)
/// and, if given, the SIP password into the keyring. Returns the view.
pub fn save(path: &Path, settings: &ConnectionSettings, password: Option<&str>) -> Result<ConnectionView, Error> {
    let (text, config) = match std::fs::read_to_string(path) {
        Ok(t) => edit(path, &t, settings)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (text, config) = edit(path, "", settings)?;
            (format!("{NEW_FILE}\n{text}"), config)
        }
        Err(e) => return Err(Error::Config(format!("cannot read {}: {e}", path.display()))),
    };
    let io = |e: std::io::Error| Error::Config(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("toml.saving");
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(password) = password.filter(|p| !p.is_empty()) {
        let keyring = warmline_secrets::Keyring::open()?;
        keyring.set(&config.sip_password_name(), &password.into())?;
    }
    Ok(ConnectionView {
        settings: ConnectionSettings::of(&config),
        file: path.display().to_string(),
        locked: false,
        saved: true,
    })
}

/// What a file made from the settings screen starts with.
const NEW_FILE: &str = "# Warmline configuration, written by the settings screen. Every field is\n\
# described in docs/configuration.md; assets/warmline.example.toml has them all.\n";

fn table<'d>(doc: &'d mut toml_edit::DocumentMut, name: &str) -> &'d mut toml_edit::Table {
    if !doc.contains_table(name) {
        doc[name] = toml_edit::table();
    }
    doc[name].as_table_mut().expect("a table was just put there")
}

fn set_or_remove(table: &mut toml_edit::Table, key: &str, value: Option<&str>) {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => table[key] = toml_edit::value(v),
        None => {
            table.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# The contact center's SBC\n[sip]\n# primary first\nservers = [\"wss://sbc1.example.com\"]\n\
                        user = \"sip:old@example.com\"\nauth_user = \"old\"\n\n[agent]\nwrap_up_seconds = 45\n";

    fn settings() -> ConnectionSettings {
        ConnectionSettings {
            servers: vec!["wss://sbc-a.contoso.example:443/".into(), " wss://sbc-b.contoso.example ".into(), "".into()],
            user: "sip:agent1001@contoso.example".into(),
            auth_user: "agent1001".into(),
            display_name: Some("Jordan Lee".into()),
            outbound_proxy: None,
            tenant: Some("contoso.onmicrosoft.com".into()),
            client_id: Some("11111111-2222-3333-4444-555555555555".into()),
        }
    }

    #[test]
    fn saving_keeps_comments_and_other_settings() {
        let (text, config) = edit(Path::new("w.toml"), FILE, &settings()).expect("edited");
        assert!(text.contains("# The contact center's SBC") && text.contains("# primary first"), "{text}");
        assert!(text.contains("wrap_up_seconds = 45"), "{text}");
        assert_eq!(config.sip.servers, ["wss://sbc-a.contoso.example:443/", "wss://sbc-b.contoso.example"]);
        assert_eq!(config.sip.user, "sip:agent1001@contoso.example");
        assert_eq!(config.sip.display_name.as_deref(), Some("Jordan Lee"));
        assert_eq!(config.agent.wrap_up_seconds, 45);
        assert_eq!(config.microsoft365.as_ref().map(|m| m.tenant.as_str()), Some("contoso.onmicrosoft.com"));
        assert_eq!(ConnectionSettings::of(&config).servers.len(), 2);
    }

    #[test]
    fn a_bad_setting_or_a_locked_file_writes_nothing() {
        let bad = ConnectionSettings { servers: vec!["http://sbc.example.com".into()], ..settings() };
        let err = edit(Path::new("w.toml"), FILE, &bad).expect_err("not a WebSocket URL");
        assert!(err.to_string().contains("sip.servers"), "{err}");
        let half = ConnectionSettings { client_id: None, ..settings() };
        assert!(edit(Path::new("w.toml"), FILE, &half).is_err(), "a tenant without a client id");
        let locked = format!("locked = [\"sip\"]\n{FILE}");
        let err = edit(Path::new("w.toml"), &locked, &settings()).expect_err("locked");
        assert!(err.to_string().contains("locked"), "{err}");
    }

    #[test]
    fn the_first_save_creates_the_file() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("warmline").join("warmline.toml");
        let view = save(&path, &settings(), None).expect("saved");
        assert!(view.saved && !view.locked);
        let written = std::fs::read_to_string(&path).expect("file");
        assert!(written.starts_with("# Warmline configuration"), "{written}");
        assert_eq!(super::view(&path).expect("view").settings, view.settings);
        let fresh = super::view(&dir.path().join("none.toml")).expect("no file yet");
        assert_eq!(fresh.settings, ConnectionSettings::default());
    }
}

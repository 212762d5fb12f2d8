//! One config file for every service: `lineup.toml` (or `--config PATH`).
//!
//! The file has one table per subcommand, and its keys are that subcommand's long options
//! (`listen`, `api-token`, `store-url`, ...; `_` may stand for `-`). Top-level keys are the
//! global options (`cors-origin`, `insecure-no-auth`, `log-format`). A value is a string,
//! number or boolean; an array gives a repeatable option several values.
//!
//! ```toml
//! cors-origin = ["https://ops.example.com"]
//! [origin]
//! listen = "0.0.0.0:8090"
//! store = "s3"
//! store-url = "s3://media/origin"
//! [pullpush]
//! listen = "0.0.0.0:8082"
//! dir-root = "/srv/lineup/out"
//! ```
//!
//! Precedence, highest first: the command line, the environment, the file, the built-in
//! default. The file's values become the options' defaults (so clap applies the rest of
//! the order), and every option has an environment variable: those without one of their
//! own get `LINEUP_<SUBCOMMAND>_<OPTION>` (e.g. `LINEUP_DEMO_WINDOW`).
//!
//! An unknown table or key, or a value the option refuses, is an error naming the file,
//! the line and the key. `--print-config` prints the effective configuration of the
//! chosen subcommand as a file would say it (secrets as `***`) and exits.
//!
//! Why not serde structs per service: each service's options already live in its own
//! crate as clap arguments (with help, env and validation); reading the file through the
//! same definitions keeps one source of truth, and a new option is configurable in the file
//! without touching this module.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, ArgMatches, Command};
use toml::Spanned;

/// A problem in the config file, naming where.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// Values with the line they are on.
type Table = BTreeMap<String, (usize, toml::Value)>;

/// The parsed file: global keys and one table per subcommand.
pub struct ConfigFile {
    path: PathBuf,
    globals: Table,
    /// Table name -> (line of its header, keys).
    sections: BTreeMap<String, (usize, Table)>,
}

impl ConfigFile {
    /// Read and parse `path`. TOML syntax errors name the line.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            line: 0,
            message: format!("cannot read the config file: {e}"),
        })?;
        Self::parse(path, text)
    }

    pub fn parse(path: &Path, text: String) -> Result<Self, ConfigError> {
        let raw: BTreeMap<String, Spanned<toml::Value>> =
            toml::from_str(&text).map_err(|e| ConfigError {
                file: path.display().to_string(),
                line: e.span().map(|s| line_of(&text, s.start)).unwrap_or(0),
                message: e.message().to_string(),
            })?;
        let mut globals = Table::new();
        let mut sections = BTreeMap::new();
        for (key, value) in raw {
            match value.into_inner() {
                toml::Value::Table(t) => {
                    let header = find_header(&text, &key);
                    let keys = t
                        .into_iter()
                        .map(|(k, v)| (k.clone(), (find_key(&text, Some(&key), &k), v)))
                        .collect();
                    sections.insert(key, (header, keys));
                }
                other => {
                    let line = find_key(&text, None, &key);
                    globals.insert(key, (line, other));
                }
            }
        }
        Ok(ConfigFile {
            path: path.to_path_buf(),
            globals,
            sections,
        })
    }

    fn error(&self, line: usize, message: String) -> ConfigError {
        ConfigError {
            file: self.path.display().to_string(),
            line,
            message,
        }
    }

    /// Check every key against `cmd` and set the file's values as the options' defaults.
    pub fn apply(&self, cmd: Command) -> Result<Command, ConfigError> {
        let known: Vec<String> = cmd
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect();
        for (name, (header, _)) in &self.sections {
            if !known.contains(name) {
                return Err(self.error(
                    *header,
                    format!(
                        "unknown table [{name}]; known: {}",
                        known
                            .iter()
                            .map(|k| format!("[{k}]"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        let mut cmd = self.apply_table(cmd, None, &self.globals)?;
        for (name, (_, table)) in &self.sections {
            let sub = cmd.find_subcommand(name).cloned().expect("checked above");
            let sub = self.apply_table(sub, Some(name), table)?;
            cmd = cmd.mut_subcommand(name, |_| sub);
        }
        Ok(cmd)
    }

    fn apply_table(
        &self,
        mut cmd: Command,
        section: Option<&str>,
        table: &Table,
    ) -> Result<Command, ConfigError> {
        let where_ = section.map(|s| format!(" in [{s}]")).unwrap_or_default();
        for (key, (line, value)) in table {
            let line = *line;
            let long = key.replace('_', "-");
            let Some(arg) = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(long.as_str()) && a.get_long() != Some("help"))
                .cloned()
            else {
                let known: Vec<String> = cmd
                    .get_arguments()
                    .filter(|a| !a.is_global_set() || section.is_none())
                    .filter_map(|a| a.get_long().map(str::to_string))
                    .filter(|l| l != "help" && l != "version" && l != "config")
                    .collect();
                return Err(self.error(
                    line,
                    format!(
                        "unknown key {key:?}{where_}; known keys: {}",
                        known.join(", ")
                    ),
                ));
            };
            let values =
                to_strings(value).map_err(|m| self.error(line, format!("{key}{where_}: {m}")))?;
            if values.len() > 1
                && !matches!(arg.get_action(), ArgAction::Append)
                && arg.get_num_args().is_none_or(|n| n.max_values() <= 1)
                && arg.get_value_delimiter().is_none()
            {
                return Err(self.error(line, format!("{key}{where_} takes one value, not a list")));
            }
            // The option's own parser judges the value, so the error is clap's, placed here.
            if !matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
                let probe = Command::new("lineup")
                    .no_binary_name(true)
                    .arg(arg.clone().required(false).global(false).env(None::<&str>));
                for v in &values {
                    let flag = format!("--{long}={v}");
                    if let Err(e) = probe.clone().try_get_matches_from([flag.as_str()]) {
                        let msg = e.to_string();
                        let msg = msg
                            .lines()
                            .next()
                            .unwrap_or("")
                            .trim_start_matches("error: ");
                        return Err(self.error(line, format!("{key}{where_} = {v:?}: {msg}")));
                    }
                }
            } else if values.len() != 1 || !matches!(values[0].as_str(), "true" | "false") {
                return Err(self.error(line, format!("{key}{where_} is a switch: true or false")));
            }
            let id = arg.get_id().clone();
            let values_for_default = values.clone();
            cmd = cmd.mut_arg(id, move |a| {
                let a = a.required(false);
                // Options are read once per process: leaking the few strings of a config
                // file is what gives clap the `'static` defaults it wants.
                let leaked: Vec<&'static str> = values_for_default
                    .iter()
                    .map(|v| &*Box::leak(v.clone().into_boxed_str()))
                    .collect();
                if leaked.len() == 1 {
                    a.default_value(leaked[0])
                } else {
                    a.default_values(leaked)
                }
            });
        }
        Ok(cmd)
    }
}

fn to_strings(v: &toml::Value) -> Result<Vec<String>, String> {
    match v {
        toml::Value::String(s) => Ok(vec![s.clone()]),
        toml::Value::Integer(i) => Ok(vec![i.to_string()]),
        toml::Value::Float(f) => Ok(vec![f.to_string()]),
        toml::Value::Boolean(b) => Ok(vec![b.to_string()]),
        toml::Value::Array(items) => items
            .iter()
            .map(|i| match i {
                toml::Value::Array(_) | toml::Value::Table(_) => {
                    Err("a list may hold strings, numbers or booleans".to_string())
                }
                other => to_strings(other).map(|mut v| v.remove(0)),
            })
            .collect(),
        toml::Value::Datetime(d) => Ok(vec![d.to_string()]),
        toml::Value::Table(_) => Err("a table is not a value here".into()),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line of the `[name]` header.
fn find_header(text: &str, name: &str) -> usize {
    text.lines()
        .position(|l| {
            let t = l.trim();
            t.strip_prefix('[')
                .and_then(|r| r.split(']').next())
                .is_some_and(|h| h.trim().trim_matches('"') == name)
        })
        .map_or(0, |i| i + 1)
}

/// The line where `key` is set: in the `[section]` table, or before any table (globals).
fn find_key(text: &str, section: Option<&str>, key: &str) -> usize {
    let mut current: Option<String> = None;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim_start();
        if t.starts_with('[') {
            current = t
                .strip_prefix('[')
                .and_then(|r| r.split(']').next())
                .map(|h| h.trim().trim_matches('"').to_string());
            continue;
        }
        if current.as_deref() != section {
            continue;
        }
        let bare = t.strip_prefix(key);
        let quoted = t
            .strip_prefix('"')
            .and_then(|r| r.strip_prefix(key))
            .and_then(|r| r.strip_prefix('"'));
        if let Some(rest) = bare.or(quoted)
            && rest.trim_start().starts_with('=')
        {
            return i + 1;
        }
    }
    0
}

/// Give every option of every subcommand an environment variable: its own, or
/// `LINEUP_<SUBCOMMAND>_<OPTION>` (global options: `LINEUP_<OPTION>`).
pub fn with_env_for_every_option(cmd: Command) -> Command {
    fn env_name(prefix: &str, long: &str) -> String {
        format!("{prefix}{}", long.replace('-', "_")).to_ascii_uppercase()
    }
    fn fill(mut cmd: Command, prefix: &str) -> Command {
        let ids: Vec<(clap::Id, String)> = cmd
            .get_arguments()
            .filter(|a| a.get_env().is_none() && !a.is_positional() && !a.is_global_set())
            .filter(|a| {
                !matches!(
                    a.get_action(),
                    ArgAction::Help
                        | ArgAction::HelpShort
                        | ArgAction::HelpLong
                        | ArgAction::Version
                )
            })
            .filter_map(|a| {
                a.get_long()
                    .map(|l| (a.get_id().clone(), env_name(prefix, l)))
            })
            .collect();
        for (id, env) in ids {
            let env: &'static str = Box::leak(env.into_boxed_str());
            cmd = cmd.mut_arg(id, |a: Arg| a.env(env));
        }
        cmd
    }
    let mut cmd = fill(cmd, "LINEUP_");
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in subs {
        let prefix = format!("LINEUP_{}_", name.replace('-', "_"));
        cmd = cmd.mut_subcommand(&name, |s| fill(s, &prefix));
    }
    cmd
}

fn is_secret(long: &str) -> bool {
    ["token", "secret", "password", "key"]
        .iter()
        .any(|s| long.contains(s))
        && !long.ends_with("-id")
}

impl ConfigFile {
    fn sets(&self, section: Option<&str>, long: &str) -> bool {
        let has = |t: &Table| t.keys().any(|k| k.replace('_', "-") == long);
        match section {
            None => has(&self.globals),
            Some(s) => self.sections.get(s).is_some_and(|(_, t)| has(t)),
        }
    }
}

/// The effective options of `sub` (and the global ones) as a config file would state
/// them, each with where its value came from.
pub fn render_effective(
    cmd: &Command,
    file: Option<&ConfigFile>,
    sub: &str,
    matches: &ArgMatches,
) -> String {
    let mut out =
        String::from("# effective configuration (command line > environment > file > default)\n");
    if let Some(f) = file {
        out.push_str(&format!("# file: {}\n", f.path.display()));
    }
    let Some(sc) = cmd.find_subcommand(sub) else {
        return out;
    };
    let sub_matches = matches.subcommand_matches(sub);
    let mut globals = String::new();
    let mut locals = String::new();
    for (section, m, args, into) in [
        (
            None,
            Some(matches),
            cmd.get_arguments().collect::<Vec<_>>(),
            &mut globals,
        ),
        (
            Some(sub),
            sub_matches,
            sc.get_arguments().filter(|a| !a.is_global_set()).collect(),
            &mut locals,
        ),
    ] {
        let Some(m) = m else { continue };
        for arg in args {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version" | "print-config" | "config") {
                continue;
            }
            let id = arg.get_id().as_str();
            let raw: Vec<String> = m
                .get_raw(id)
                .map(|vals| vals.map(|v| v.to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            let source = match m.value_source(id) {
                Some(clap::parser::ValueSource::CommandLine) => "command line",
                Some(clap::parser::ValueSource::EnvVariable) => "environment",
                Some(clap::parser::ValueSource::DefaultValue)
                    if file.is_some_and(|f| f.sets(section, long)) =>
                {
                    "file"
                }
                Some(_) => "default",
                None => "unset",
            };
            if raw.is_empty() {
                into.push_str(&format!("# {long} = (unset)\n"));
                continue;
            }
            let value = if is_secret(long) {
                "\"***\"".to_string()
            } else if raw.len() == 1 && !matches!(arg.get_action(), ArgAction::Append) {
                toml_value(&raw[0])
            } else {
                format!(
                    "[{}]",
                    raw.iter()
                        .map(|v| toml_value(v))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            into.push_str(&format!("{long} = {value}  # {source}\n"));
        }
    }
    out.push_str(&globals);
    out.push_str(&format!("[{sub}]\n"));
    out.push_str(&locals);
    out
}

fn toml_value(v: &str) -> String {
    if v == "true" || v == "false" || v.parse::<i64>().is_ok() {
        v.to_string()
    } else {
        toml::Value::String(v.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[arg(long, global = true)]
        flag: bool,
        #[command(subcommand)]
        cmd: Sub,
    }
    #[derive(clap::Subcommand, Debug)]
    enum Sub {
        Svc {
            #[arg(long, default_value = "127.0.0.1:1")]
            listen: std::net::SocketAddr,
            #[arg(long, default_value_t = 3)]
            window: u64,
            #[arg(long, env = "SVC_TOKEN")]
            api_token: Option<String>,
            #[arg(long = "bucket", value_delimiter = ',')]
            buckets: Vec<String>,
        },
    }

    fn parse(text: &str, argv: &[&str]) -> Result<Cli, String> {
        let file = ConfigFile::parse(Path::new("lineup.toml"), text.to_string())
            .map_err(|e| e.to_string())?;
        let cmd = file
            .apply(with_env_for_every_option(
                <Cli as clap::CommandFactory>::command(),
            ))
            .map_err(|e| e.to_string())?;
        let m = cmd.try_get_matches_from(argv).map_err(|e| e.to_string())?;
        <Cli as clap::FromArgMatches>::from_arg_matches(&m).map_err(|e| e.to_string())
    }

    #[test]
    fn file_values_are_defaults_below_the_command_line() {
        let text =
            "flag = true\n[svc]\nlisten = \"127.0.0.1:9\"\nwindow = 7\nbucket = [\"a\", \"b\"]\n";
        let cli = parse(text, &["lineup", "svc"]).unwrap();
        assert!(cli.flag);
        let Sub::Svc {
            listen,
            window,
            buckets,
            ..
        } = cli.cmd;
        assert_eq!(listen.port(), 9);
        assert_eq!(window, 7);
        assert_eq!(buckets, vec!["a", "b"]);
        let cli = parse(text, &["lineup", "svc", "--window", "8"]).unwrap();
        let Sub::Svc { window, .. } = cli.cmd;
        assert_eq!(window, 8);
        let _ = Cli::try_parse_from(["lineup", "svc"]).unwrap();
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let e = parse(
            "[svc]\nlisten = \"127.0.0.1:9\"\nwindoww = 7\n",
            &["lineup", "svc"],
        )
        .unwrap_err();
        assert!(
            e.starts_with("lineup.toml:3: unknown key \"windoww\" in [svc]"),
            "{e}"
        );
        let e = parse("[svc]\n\nwindow = \"soon\"\n", &["lineup", "svc"]).unwrap_err();
        assert!(
            e.starts_with("lineup.toml:3: window in [svc] = \"soon\""),
            "{e}"
        );
        let e = parse("[nope]\nx = 1\n", &["lineup", "svc"]).unwrap_err();
        assert!(e.starts_with("lineup.toml:1: unknown table [nope]"), "{e}");
        let e = parse("[svc]\nwindow = \n", &["lineup", "svc"]).unwrap_err();
        assert!(e.starts_with("lineup.toml:2:"), "{e}");
        let e = parse("flag = 3\n", &["lineup", "svc"]).unwrap_err();
        assert!(e.contains("flag is a switch"), "{e}");
    }

    #[test]
    fn every_option_gets_an_environment_variable() {
        let cmd = with_env_for_every_option(<Cli as clap::CommandFactory>::command());
        let svc = cmd.find_subcommand("svc").unwrap();
        let env = |long: &str| {
            svc.get_arguments()
                .find(|a| a.get_long() == Some(long))
                .and_then(|a| a.get_env())
                .map(|e| e.to_string_lossy().into_owned())
        };
        assert_eq!(env("window").as_deref(), Some("LINEUP_SVC_WINDOW"));
        assert_eq!(env("api-token").as_deref(), Some("SVC_TOKEN"));
    }

    #[test]
    fn effective_config_masks_secrets() {
        let file = ConfigFile::parse(
            Path::new("lineup.toml"),
            "[svc]\napi-token = \"hunter2\"\nwindow = 5\n".into(),
        )
        .unwrap();
        let cmd = file
            .apply(<Cli as clap::CommandFactory>::command())
            .unwrap();
        let m = cmd.clone().try_get_matches_from(["lineup", "svc"]).unwrap();
        let text = render_effective(&cmd, Some(&file), "svc", &m);
        assert!(text.contains("window = 5  # file"), "{text}");
        assert!(
            text.contains("listen = \"127.0.0.1:1\"  # default"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("api-token = \"***\""), "{text}");
        // What it prints reads back as TOML.
        let _: toml::Value = toml::from_str(
            &text
                .lines()
                .map(|l| l.split("  #").next().unwrap())
                .collect::<Vec<_>>()
                .join("\n"),
        )
        .unwrap();
    }
}

//! The target's command line as the shim sees it: global options, the command words
//! (`container checkpoint`), and the options and arguments after them, parsed the way podman's
//! pflag does so that one option can be dropped, added or changed while the rest is passed on as
//! it was written.

/// An option of `container checkpoint` or `container restore`.
#[derive(Debug, PartialEq, Eq)]
pub struct Opt {
    pub long: &'static str,
    pub short: Option<char>,
    /// Takes a value (`--export FILE`); otherwise a boolean flag.
    pub value: bool,
}

const fn flag(long: &'static str, short: Option<char>) -> Opt {
    Opt {
        long,
        short,
        value: false,
    }
}

const fn valued(long: &'static str, short: Option<char>) -> Opt {
    Opt {
        long,
        short,
        value: true,
    }
}

/// podman 5.x `container checkpoint --help`.
const CHECKPOINT: &[Opt] = &[
    flag("all", Some('a')),
    valued("compress", Some('c')),
    valued("create-image", None),
    valued("export", Some('e')),
    flag("file-locks", None),
    flag("ignore-rootfs", None),
    flag("ignore-volumes", None),
    flag("keep", Some('k')),
    flag("latest", Some('l')),
    flag("leave-running", Some('R')),
    flag("pre-checkpoint", Some('P')),
    flag("print-stats", None),
    flag("tcp-established", None),
    flag("with-previous", None),
];

/// podman 5.x `container restore --help`.
const RESTORE: &[Opt] = &[
    flag("all", Some('a')),
    flag("file-locks", None),
    flag("ignore-rootfs", None),
    flag("ignore-static-ip", None),
    flag("ignore-static-mac", None),
    flag("ignore-volumes", None),
    valued("import", Some('i')),
    valued("import-previous", None),
    flag("keep", Some('k')),
    flag("latest", Some('l')),
    valued("name", Some('n')),
    valued("pod", None),
    flag("print-stats", None),
    valued("publish", Some('p')),
    flag("tcp-established", None),
];

/// Global options that take a value as the next word (`podman --runtime runc ...`).
const GLOBAL_VALUED: &[&str] = &[
    "--runtime",
    "--root",
    "--runroot",
    "--cgroup-manager",
    "--log-level",
    "--storage-driver",
    "--tmpdir",
    "--conmon",
    "--network-config-dir",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Checkpoint,
    Restore,
}

impl Verb {
    fn table(self) -> &'static [Opt] {
        match self {
            Verb::Checkpoint => CHECKPOINT,
            Verb::Restore => RESTORE,
        }
    }
}

/// `podman [global options] <command words> <rest>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub global: Vec<String>,
    /// `["container", "checkpoint"]`, `["image", "inspect"]`, `["run"]`...
    pub words: Vec<String>,
    pub rest: Vec<String>,
}

impl CommandLine {
    pub fn parse(argv: &[String]) -> CommandLine {
        let mut i = 0;
        while i < argv.len() && argv[i].starts_with('-') {
            let takes_next = GLOBAL_VALUED.contains(&argv[i].as_str());
            i += if takes_next { 2 } else { 1 };
        }
        let i = i.min(argv.len());
        let global = argv[..i].to_vec();
        // Group commands (`container`, `image`, `volume`) are followed by their subcommand.
        let n = match argv.get(i).map(String::as_str) {
            Some("container" | "image" | "volume") if argv.len() > i + 1 => 2,
            Some(_) => 1,
            None => 0,
        };
        CommandLine {
            global,
            words: argv[i..i + n].to_vec(),
            rest: argv[i + n..].to_vec(),
        }
    }

    pub fn is(&self, words: &[&str]) -> bool {
        self.words
            .iter()
            .map(String::as_str)
            .eq(words.iter().copied())
    }

    /// `container checkpoint` or `container restore`.
    pub fn verb(&self) -> Option<Verb> {
        if self.is(&["container", "checkpoint"]) {
            Some(Verb::Checkpoint)
        } else if self.is(&["container", "restore"]) {
            Some(Verb::Restore)
        } else {
            None
        }
    }

    /// The options of a checkpoint or restore.
    pub fn options(&self) -> Option<Options> {
        self.verb().map(|v| Options::parse(v, &self.rest))
    }

    /// The command words followed by `rest` (the global options are the caller's).
    pub fn command(&self, rest: Vec<String>) -> Vec<String> {
        let mut argv = self.words.clone();
        argv.extend(rest);
        argv
    }
}

/// One parsed element after the command words.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// A known option; `raw` is how it was written, `None` once it was changed (or when it came
    /// from a group of short flags such as `-lR`), so that it is written out canonically.
    Opt {
        opt: &'static Opt,
        value: Option<String>,
        raw: Option<Vec<String>>,
    },
    /// An argument, or anything the table does not know (passed on as written).
    Verbatim { word: String, positional: bool },
}

/// The options and arguments of a checkpoint or restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    table: &'static [Opt],
    items: Vec<Item>,
}

impl Options {
    pub fn parse(verb: Verb, rest: &[String]) -> Options {
        let table = verb.table();
        let by_long = |name: &str| table.iter().find(|o| o.long == name);
        let by_short = |c: char| table.iter().find(|o| o.short == Some(c));
        let mut items = vec![];
        let mut words = rest.iter();
        while let Some(word) = words.next() {
            if word == "--" {
                items.push(Item::Verbatim {
                    word: word.clone(),
                    positional: false,
                });
                items.extend(words.by_ref().map(|w| Item::Verbatim {
                    word: w.clone(),
                    positional: true,
                }));
                break;
            }
            if let Some(long) = word.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (long, None),
                };
                let Some(opt) = by_long(name) else {
                    items.push(Item::Verbatim {
                        word: word.clone(),
                        positional: false,
                    });
                    continue;
                };
                let mut raw = vec![word.clone()];
                let value = match inline {
                    Some(v) => Some(v),
                    None if opt.value => words.next().inspect(|v| raw.push((*v).clone())).cloned(),
                    None => None,
                };
                items.push(Item::Opt {
                    opt,
                    value,
                    raw: Some(raw),
                });
                continue;
            }
            let shorts = match word.strip_prefix('-') {
                Some(s) if !s.is_empty() => s,
                _ => {
                    items.push(Item::Verbatim {
                        word: word.clone(),
                        positional: true,
                    });
                    continue;
                }
            };
            // A group (`-lR`, `-cgzip`, `-c gzip`): flags until one that takes a value.
            let mut group = vec![];
            let mut raw = vec![word.clone()];
            let mut known = true;
            for (at, c) in shorts.char_indices() {
                let Some(opt) = by_short(c) else {
                    known = false;
                    break;
                };
                if opt.value {
                    let inline = &shorts[at + c.len_utf8()..];
                    let value = if inline.is_empty() {
                        words.next().inspect(|v| raw.push((*v).clone())).cloned()
                    } else {
                        Some(inline.strip_prefix('=').unwrap_or(inline).to_string())
                    };
                    group.push((opt, value));
                    break;
                }
                group.push((opt, None));
            }
            if !known {
                items.push(Item::Verbatim {
                    word: word.clone(),
                    positional: false,
                });
                continue;
            }
            let single = group.len() == 1;
            items.extend(group.into_iter().map(|(opt, value)| Item::Opt {
                opt,
                value,
                raw: single.then(|| raw.clone()),
            }));
        }
        Options { table, items }
    }

    /// The value of the option's last occurrence (`Some(None)` for a flag).
    fn last(&self, long: &str) -> Option<&Option<String>> {
        self.items.iter().rev().find_map(|i| match i {
            Item::Opt { opt, value, .. } if opt.long == long => Some(value),
            _ => None,
        })
    }

    /// Whether the option is given (a flag written `--x=false` is not).
    pub fn has(&self, long: &str) -> bool {
        self.last(long)
            .is_some_and(|v| v.as_deref() != Some("false"))
    }

    /// The value of the option's last occurrence.
    pub fn value(&self, long: &str) -> Option<&str> {
        self.last(long).and_then(|v| v.as_deref())
    }

    /// The containers, images or names given as arguments.
    pub fn positionals(&self) -> Vec<&str> {
        self.items
            .iter()
            .filter_map(|i| match i {
                Item::Verbatim {
                    word,
                    positional: true,
                } => Some(word.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Drops every occurrence of the option (and its value); whether there was one.
    pub fn remove(&mut self, long: &str) -> bool {
        let before = self.items.len();
        self.items
            .retain(|i| !matches!(i, Item::Opt { opt, .. } if opt.long == long));
        self.items.len() != before
    }

    /// Adds the option in front of the others.
    pub fn add(&mut self, long: &str, value: Option<&str>) {
        let opt = self.opt(long);
        self.items.insert(
            0,
            Item::Opt {
                opt,
                value: value.map(String::from),
                raw: None,
            },
        );
    }

    /// Changes the value of every occurrence.
    pub fn set_value(&mut self, long: &str, new: &str) {
        for item in &mut self.items {
            if let Item::Opt { opt, value, raw } = item {
                if opt.long == long {
                    *value = Some(new.to_string());
                    *raw = None;
                }
            }
        }
    }

    /// Keeps only these arguments (options stay).
    pub fn set_positionals(&mut self, keep: &[&str]) {
        let positional = |i: &Item| matches!(i, Item::Verbatim { positional, .. } if *positional);
        self.items.retain(|i| !positional(i));
        self.items.extend(keep.iter().map(|w| Item::Verbatim {
            word: w.to_string(),
            positional: true,
        }));
    }

    fn opt(&self, long: &str) -> &'static Opt {
        self.table
            .iter()
            .find(|o| o.long == long)
            .unwrap_or_else(|| panic!("the catalog names an unknown option --{long}"))
    }

    /// The arguments to pass on: as written, except what was changed.
    pub fn to_args(&self) -> Vec<String> {
        let mut out = vec![];
        for item in &self.items {
            match item {
                Item::Opt { raw: Some(raw), .. } => out.extend(raw.iter().cloned()),
                Item::Opt {
                    opt, value: None, ..
                } => out.push(format!("--{}", opt.long)),
                Item::Opt {
                    opt,
                    value: Some(v),
                    ..
                } => out.push(format!("--{}={v}", opt.long)),
                Item::Verbatim { word, .. } => out.push(word.clone()),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn checkpoint(rest: &str) -> Options {
        Options::parse(Verb::Checkpoint, &argv(rest))
    }

    #[test]
    fn splits_global_options_command_words_and_the_rest() {
        let cl = CommandLine::parse(&argv("--runtime runc container checkpoint -R c"));
        assert_eq!(cl.global, argv("--runtime runc"));
        assert_eq!(cl.words, argv("container checkpoint"));
        assert_eq!(cl.rest, argv("-R c"));
        assert_eq!(cl.verb(), Some(Verb::Checkpoint));
        assert_eq!(cl.command(argv("x")), argv("container checkpoint x"));

        let cl = CommandLine::parse(&argv("exec c cat /count"));
        assert_eq!(cl.words, argv("exec"));
        assert_eq!(cl.verb(), None);
        assert!(CommandLine::parse(&argv("image inspect x")).is(&["image", "inspect"]));
        assert!(CommandLine::parse(&argv("--version")).words.is_empty());
    }

    #[test]
    fn reads_long_short_inline_and_grouped_options() {
        let o = checkpoint("-e /a.tar --compress=gzip -lR --keep=false c1 c2");
        assert_eq!(o.value("export"), Some("/a.tar"));
        assert_eq!(o.value("compress"), Some("gzip"));
        assert!(o.has("latest") && o.has("leave-running"));
        assert!(!o.has("keep"), "--keep=false is not set");
        assert_eq!(o.positionals(), ["c1", "c2"]);

        let o = checkpoint("-cnone -e=/b.tar c");
        assert_eq!(o.value("compress"), Some("none"));
        assert_eq!(o.value("export"), Some("/b.tar"));
        let o = Options::parse(Verb::Restore, &argv("-i /a.tar -n copy"));
        assert_eq!(o.value("import"), Some("/a.tar"));
        assert_eq!(o.value("name"), Some("copy"));
        assert!(o.positionals().is_empty());
    }

    #[test]
    fn unchanged_options_are_passed_on_as_written() {
        let rest = "--export=/x -c gzip --bogus -R c -- -weird";
        assert_eq!(checkpoint(rest).to_args(), argv(rest));
    }

    #[test]
    fn drops_an_option_with_its_value() {
        let mut o = checkpoint("--create-image img -R c");
        assert!(o.remove("create-image"));
        assert_eq!(o.to_args(), argv("-R c"));
        assert!(!o.remove("create-image"));

        // One flag out of a group: the others are written out one by one.
        let mut o = checkpoint("-lR");
        o.remove("leave-running");
        assert_eq!(o.to_args(), argv("--latest"));
    }

    #[test]
    fn adds_and_changes_options() {
        let mut o = checkpoint("-e /x -c GZIP c");
        o.set_value("compress", "zstd");
        o.add("leave-running", None);
        assert_eq!(o.to_args(), argv("--leave-running -e /x --compress=zstd c"));

        let mut o = checkpoint("-R a b");
        o.set_positionals(&["b"]);
        assert_eq!(o.to_args(), argv("-R b"));
    }
}

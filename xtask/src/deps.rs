//! `cargo xtask deps`: the module import graph of every target of every workspace crate, and its
//! cycles (strongly connected components of more than one module). Exit status 1 when any.
//!
//! A textual scan, not the compiler: a target's module tree is found from its root file through
//! its `mod x;` declarations; each module's file (comments and literals removed, its inline
//! modules such as `mod tests` counted as part of it) is searched for paths that name another
//! module of the tree: `crate::a::b`, `super::`/`self::` paths, paths that start with a child
//! module's name, and names a `use` made stand for a module. An edge M -> N means that M's file
//! names N or an item of N; macro bodies count, since they are scanned as tokens. Not followed:
//! the children a glob import brings in (`use crate::a::*; b::f()` counts `a`, not `a::b`),
//! `#[path]` attributes, paths a macro assembles from pieces, and method calls: a method defined in
//! an `impl` block outside its type's module is a dependency on that module the scan cannot see.

use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct DepsArgs {
    /// Only these packages (default: every workspace member).
    #[arg(long, short)]
    pub package: Vec<String>,
    /// Print every edge, not only those of cycles.
    #[arg(long)]
    pub edges: bool,
}

/// One compilation target of a package (its lib, a bin, a test...).
pub struct Target {
    pub package: String,
    pub kind: String,
    pub name: String,
    pub root: PathBuf,
}

/// A module path from the crate root (`[]` is the root itself).
type ModPath = Vec<String>;

/// Where an edge was seen first: file and line.
#[derive(Clone, Debug)]
pub struct Evidence {
    pub file: PathBuf,
    pub line: usize,
}

pub struct Graph {
    /// Every module of the target and its file.
    pub modules: BTreeMap<ModPath, PathBuf>,
    pub edges: BTreeMap<(ModPath, ModPath), Evidence>,
}

pub fn run(args: &DepsArgs) -> Result<std::process::ExitCode> {
    let mut cyclic = false;
    for t in workspace_targets()? {
        if !args.package.is_empty() && !args.package.contains(&t.package) {
            continue;
        }
        let graph = graph(&t.root)?;
        let cycles = cycles(&graph);
        cyclic |= !cycles.is_empty();
        // A closed pipe (`| head`) ends the listing, not the check.
        let _ = std::io::Write::write_all(
            &mut std::io::stdout(),
            render(&t, &graph, &cycles, args.edges).as_bytes(),
        );
    }
    Ok(if cyclic {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    })
}

/// Every target of the workspace's packages, from `cargo metadata`.
pub fn workspace_targets() -> Result<Vec<Target>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let mut targets = vec![];
    for p in meta["packages"].as_array().context("packages")? {
        let package = p["name"].as_str().context("package name")?.to_string();
        for t in p["targets"].as_array().context("targets")? {
            targets.push(Target {
                package: package.clone(),
                kind: t["kind"][0].as_str().unwrap_or("?").to_string(),
                name: t["name"].as_str().context("target name")?.to_string(),
                root: PathBuf::from(t["src_path"].as_str().context("src_path")?),
            });
        }
    }
    targets.sort_by(|a, b| (&a.package, &a.kind, &a.name).cmp(&(&b.package, &b.kind, &b.name)));
    Ok(targets)
}

/// The module tree under `root` and the edges between its modules.
pub fn graph(root: &Path) -> Result<Graph> {
    let mut files = BTreeMap::new();
    let mut pending = vec![(ModPath::new(), root.to_path_buf(), true)];
    let mut tokens = BTreeMap::new();
    while let Some((path, file, owns_dir)) = pending.pop() {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let toks = lex(&text);
        // Children of `a.rs` live in `a/`; of a crate root or a `mod.rs`, beside it.
        let dir = if owns_dir {
            file.parent().unwrap_or(Path::new(".")).to_path_buf()
        } else {
            file.with_extension("")
        };
        for child in file_children(&toks) {
            let flat = dir.join(format!("{child}.rs"));
            let nested = dir.join(&child).join("mod.rs");
            let (child_file, child_owns) = if flat.exists() {
                (flat, false)
            } else if nested.exists() {
                (nested, true)
            } else {
                bail!("{}: no file for `mod {child};`", file.display());
            };
            let mut p = path.clone();
            p.push(child);
            pending.push((p, child_file, child_owns));
        }
        files.insert(path.clone(), file);
        tokens.insert(path, toks);
    }
    let mut edges = BTreeMap::new();
    for (path, toks) in &tokens {
        for (target, line) in references(path, toks, &files) {
            if target != *path {
                edges
                    .entry((path.clone(), target))
                    .or_insert_with(|| Evidence {
                        file: files[path].clone(),
                        line,
                    });
            }
        }
    }
    Ok(Graph {
        modules: files,
        edges,
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// `::`
    Sep,
    Punct(char),
}

/// Tokens with their line numbers; comments, string, char and number literals dropped.
fn lex(text: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = text.chars().collect();
    let mut out = vec![];
    let (mut i, mut line) = (0, 1);
    let ident_start = |ch: char| ch == '_' || ch.is_alphabetic();
    let ident_char = |ch: char| ch == '_' || ch.is_alphanumeric();
    // Skips a string body from just after its opening quote; `hashes` for raw strings.
    let skip_string = |i: &mut usize, line: &mut usize, raw: bool, hashes: usize| {
        while *i < c.len() {
            match c[*i] {
                '\\' if !raw => {
                    if c.get(*i + 1) == Some(&'\n') {
                        *line += 1;
                    }
                    *i += 1;
                }
                '"' if c[*i + 1..]
                    .iter()
                    .take(hashes)
                    .filter(|&&h| h == '#')
                    .count()
                    == hashes =>
                {
                    *i += 1 + hashes;
                    return;
                }
                '\n' => *line += 1,
                _ => {}
            }
            *i += 1;
        }
    };
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if ch == '"' {
            i += 1;
            skip_string(&mut i, &mut line, false, 0);
        } else if let Some((len, raw, hashes, quote)) = matches!(ch, 'r' | 'b' | 'c')
            .then(|| literal_prefix(&c[i..]))
            .flatten()
        {
            i += len;
            if quote == '\'' {
                skip_char(&c, &mut i);
            } else {
                skip_string(&mut i, &mut line, raw, hashes);
            }
        } else if ch == '\'' {
            // A char literal ('a', '\n', '\u{..}') or a lifetime ('a).
            if c.get(i + 1) == Some(&'\\') || c.get(i + 2) == Some(&'\'') {
                i += 1;
                skip_char(&c, &mut i);
            } else {
                i += 1;
            }
        } else if ch.is_ascii_digit() {
            while i < c.len()
                && (ident_char(c[i])
                    || c[i] == '.' && c.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
            {
                i += 1;
            }
        } else if ident_start(ch) {
            let start = i;
            while i < c.len() && ident_char(c[i]) {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            // `r#ident`
            let word = if word == "r"
                && c.get(i) == Some(&'#')
                && c.get(i + 1).is_some_and(|&n| ident_start(n))
            {
                let s = i + 1;
                i = s;
                while i < c.len() && ident_char(c[i]) {
                    i += 1;
                }
                c[s..i].iter().collect()
            } else {
                word
            };
            out.push((Tok::Ident(word), line));
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push((Tok::Sep, line));
            i += 2;
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

/// The prefix of a byte/raw/C string or byte char literal starting at `c[0]`: (its length up to
/// and including the quote, raw, number of `#`, the quote).
fn literal_prefix(c: &[char]) -> Option<(usize, bool, usize, char)> {
    let mut i = 0;
    if matches!(c.first(), Some('b' | 'c')) {
        i += 1;
    }
    let raw = c.get(i) == Some(&'r');
    if raw {
        i += 1;
    }
    let mut hashes = 0;
    while raw && c.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    match c.get(i) {
        Some('"') if i > 0 => Some((i + 1, raw, hashes, '"')),
        Some('\'') if i == 1 && c[0] == 'b' => Some((i + 1, false, 0, '\'')),
        _ => None,
    }
}

/// Skips a char literal's body from just after its opening quote.
fn skip_char(c: &[char], i: &mut usize) {
    while *i < c.len() {
        match c[*i] {
            '\\' => *i += 2,
            '\'' => {
                *i += 1;
                return;
            }
            _ => *i += 1,
        }
    }
}

/// `mod x;` at the top level of a file: the modules with a file of their own.
fn file_children(toks: &[(Tok, usize)]) -> Vec<String> {
    let mut out = vec![];
    let mut depth = 0usize;
    for (i, (t, _)) in toks.iter().enumerate() {
        match t {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => depth = depth.saturating_sub(1),
            Tok::Ident(m) if m == "mod" && depth == 0 => {
                if let (Some((Tok::Ident(name), _)), Some((Tok::Punct(';'), _))) =
                    (toks.get(i + 1), toks.get(i + 2))
                {
                    out.push(name.clone());
                }
            }
            _ => {}
        }
    }
    out
}

/// The modules the file of `module` names, with the line of each mention.
fn references(
    module: &[String],
    toks: &[(Tok, usize)],
    modules: &BTreeMap<ModPath, PathBuf>,
) -> Vec<(ModPath, usize)> {
    let mut out = vec![];
    // Names a `use` made stand for a module of the tree.
    let mut aliases: BTreeMap<String, ModPath> = BTreeMap::new();
    // Inline modules (`mod tests { ... }`): their names and the brace depth they close at.
    let mut inline: Vec<(String, usize)> = vec![];
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let here: ModPath = module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(n, _)| n.clone()))
            .collect();
        match &toks[i].0 {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            Tok::Ident(m)
                if m == "mod" && matches!(toks.get(i + 2), Some((Tok::Punct('{'), _))) =>
            {
                if let Some((Tok::Ident(name), _)) = toks.get(i + 1) {
                    inline.push((name.clone(), depth));
                }
            }
            Tok::Ident(u) if u == "use" => {
                let line = toks[i].1;
                let mut j = i + 1;
                let mut paths = vec![];
                use_tree(toks, &mut j, vec![], &mut paths);
                for (path, alias) in paths {
                    if let Some(abs) = resolve(&path, module, &here, &aliases, modules) {
                        let target = longest_module(&abs, modules);
                        if abs == target {
                            if let Some(name) = alias.or_else(|| abs.last().cloned()) {
                                aliases.insert(name, abs.clone());
                            }
                        }
                        out.push((target, line));
                    }
                }
                i = j;
                continue;
            }
            Tok::Ident(first)
                if !matches!(i.checked_sub(1).map(|p| &toks[p].0), Some(Tok::Sep)) =>
            {
                let line = toks[i].1;
                let mut path = vec![first.clone()];
                let mut j = i + 1;
                while let (Some((Tok::Sep, _)), Some((Tok::Ident(seg), _))) =
                    (toks.get(j), toks.get(j + 1))
                {
                    path.push(seg.clone());
                    j += 2;
                }
                if path.len() > 1 {
                    if let Some(abs) = resolve(&path, module, &here, &aliases, modules) {
                        out.push((longest_module(&abs, modules), line));
                    }
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Parses the use tree at `toks[*j]` (after `use`) up to its end (`;`, or the `,`/`}` closing
/// a branch, not consumed): every leaf path with its `as` name. Groups are expanded; a `self`
/// leaf stands for its parent.
fn use_tree(
    toks: &[(Tok, usize)],
    j: &mut usize,
    mut path: Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    loop {
        match toks.get(*j).map(|t| &t.0) {
            Some(Tok::Ident(a)) if a == "as" => {
                let alias = match toks.get(*j + 1) {
                    Some((Tok::Ident(alias), _)) => Some(alias.clone()),
                    _ => None,
                };
                *j += 2;
                out.push((path, alias));
                return;
            }
            Some(Tok::Ident(s)) if s == "self" && !path.is_empty() => *j += 1,
            Some(Tok::Ident(seg)) => {
                path.push(seg.clone());
                *j += 1;
            }
            Some(Tok::Punct('{')) => {
                *j += 1;
                loop {
                    if let Some(Tok::Punct('}')) = toks.get(*j).map(|t| &t.0) {
                        *j += 1;
                        break;
                    }
                    use_tree(toks, j, path.clone(), out);
                    match toks.get(*j).map(|t| &t.0) {
                        Some(Tok::Punct(',')) => *j += 1,
                        Some(Tok::Punct('}')) => {
                            *j += 1;
                            break;
                        }
                        _ => break,
                    }
                }
                return;
            }
            Some(Tok::Punct(';' | ',' | '}')) | None => {
                out.push((path, None));
                return;
            }
            // `::`, `*` (a glob names its module) and anything unexpected.
            Some(_) => *j += 1,
        }
    }
}

/// The absolute path `path` (as written in `here`, inside the file of `module`) stands for, when
/// it starts in this crate.
fn resolve(
    path: &[String],
    module: &[String],
    here: &[String],
    aliases: &BTreeMap<String, ModPath>,
    modules: &BTreeMap<ModPath, PathBuf>,
) -> Option<ModPath> {
    let first = path.first()?;
    let (mut base, rest): (ModPath, &[String]) = match first.as_str() {
        "crate" => (vec![], &path[1..]),
        "self" => (here.to_vec(), &path[1..]),
        "super" => {
            let mut base = here.to_vec();
            let mut k = 0;
            while path.get(k).is_some_and(|s| s == "super") {
                base.pop()?;
                k += 1;
            }
            (base, &path[k..])
        }
        _ => {
            let mut child = module.to_vec();
            child.push(first.clone());
            if modules.contains_key(&child) {
                (child, &path[1..])
            } else {
                (aliases.get(first)?.clone(), &path[1..])
            }
        }
    };
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The deepest module of the tree that `path` is in.
fn longest_module(path: &[String], modules: &BTreeMap<ModPath, PathBuf>) -> ModPath {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains_key(p))
        .unwrap_or_default()
}

/// The strongly connected components of more than one module (Tarjan), each sorted.
pub fn cycles(g: &Graph) -> Vec<Vec<ModPath>> {
    let nodes: Vec<&ModPath> = g.modules.keys().collect();
    let index_of: BTreeMap<&ModPath, usize> =
        nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut succ = vec![vec![]; nodes.len()];
    for (from, to) in g.edges.keys() {
        if let (Some(&a), Some(&b)) = (index_of.get(from), index_of.get(to)) {
            succ[a].push(b);
        }
    }
    struct State {
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(v: usize, succ: &[Vec<usize>], s: &mut State) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in &succ[v] {
            match s.index[w] {
                None => {
                    visit(w, succ, s);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on_stack[w] => s.low[v] = s.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut scc = vec![];
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                scc.push(w);
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                s.out.push(scc);
            }
        }
    }
    let n = nodes.len();
    let mut s = State {
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: vec![],
        next: 0,
        out: vec![],
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(v, &succ, &mut s);
        }
    }
    let mut out: Vec<Vec<ModPath>> = s
        .out
        .into_iter()
        .map(|scc| {
            let mut m: Vec<ModPath> = scc.into_iter().map(|i| nodes[i].clone()).collect();
            m.sort();
            m
        })
        .collect();
    out.sort();
    out
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// One target's summary, its cycles with the edges inside each (and where they are written).
pub fn render(t: &Target, g: &Graph, cycles: &[Vec<ModPath>], all_edges: bool) -> String {
    let root = std::env::current_dir().unwrap_or_default();
    let at = |e: &Evidence| {
        format!(
            "{}:{}",
            e.file.strip_prefix(&root).unwrap_or(&e.file).display(),
            e.line
        )
    };
    let mut s = format!(
        "{} ({} {}): {} modules, {} edges, {}\n",
        t.package,
        t.kind,
        t.name,
        g.modules.len(),
        g.edges.len(),
        match cycles.len() {
            0 => "no cycle".to_string(),
            1 => "1 cycle".to_string(),
            n => format!("{n} cycles"),
        }
    );
    for scc in cycles {
        let members: BTreeSet<&ModPath> = scc.iter().collect();
        s.push_str(&format!(
            "  cycle: {}\n",
            scc.iter().map(|m| name(m)).collect::<Vec<_>>().join(", ")
        ));
        for ((from, to), e) in &g.edges {
            if members.contains(from) && members.contains(to) {
                s.push_str(&format!(
                    "    {} -> {}  ({})\n",
                    name(from),
                    name(to),
                    at(e)
                ));
            }
        }
    }
    if all_edges {
        for ((from, to), e) in &g.edges {
            s.push_str(&format!("  {} -> {}  ({})\n", name(from), name(to), at(e)));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> (tempfile::TempDir, Graph) {
        let t = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let p = t.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let g = graph(&t.path().join(files[0].0)).unwrap();
        (t, g)
    }

    fn names(cycles: &[Vec<ModPath>]) -> Vec<String> {
        cycles
            .iter()
            .map(|c| c.iter().map(|m| name(m)).collect::<Vec<_>>().join(","))
            .collect()
    }

    #[test]
    fn a_cycle_through_use_super_and_grouped_paths_is_found() {
        let (_t, g) = tree(&[
            ("main.rs", "mod a;\nmod b;\nmod c;\nfn main() { a::f(); }"),
            (
                "a.rs",
                "use crate::{b::{self, X}, c};\npub fn f() {}\nmod inner;",
            ),
            ("a/inner.rs", "fn g() { super::f(); }"),
            ("b.rs", "pub struct X;\nfn h() { crate::c::k(); }"),
            ("c.rs", "use super::a;\npub fn k() { a::inner::g(); }"),
        ]);
        assert_eq!(names(&cycles(&g)), ["a,a::inner,b,c"]);
        // `a::inner` names `a` (its parent) and is named only through `c`'s alias of `a`.
        assert!(g
            .edges
            .contains_key(&(vec!["c".into()], vec!["a".into(), "inner".into()])));
        assert!(g
            .edges
            .contains_key(&(vec!["a".into(), "inner".into()], vec!["a".into()])));
        // The root names `a`, nothing names the root.
        assert!(g.edges.keys().all(|(_, to)| !to.is_empty()));
    }

    #[test]
    fn comments_literals_and_test_modules_do_not_mislead() {
        let (_t, g) = tree(&[
            ("lib.rs", "pub mod a;\npub mod b;"),
            (
                "a.rs",
                "//! calls `b::f` (a comment)\n/* crate::b::f /* nested */ b::f */\n\
                 fn f() { let _ = \"crate::b::f\"; let _ = r#\"b::f\"#; let _ = 'b'; let _ = b'\"'; }\n\
                 fn g<'b>(x: &'b str) -> &'b str { x }\n\
                 #[cfg(test)] mod tests { use super::*; fn t() { f(); self::t(); } }",
            ),
            ("b.rs", "pub fn f() { crate::a::f(); }"),
        ]);
        assert!(
            cycles(&g).is_empty(),
            "{:?}",
            g.edges.keys().collect::<Vec<_>>()
        );
        assert_eq!(g.edges.len(), 1);
    }

    #[test]
    fn a_crate_root_that_is_named_back_is_in_the_cycle() {
        let (_t, g) = tree(&[
            (
                "main.rs",
                "mod info;\nconst V: &str = \"1\";\nfn main() { info::show(); }",
            ),
            ("info.rs", "pub fn show() { println!(\"{}\", crate::V); }"),
        ]);
        assert_eq!(names(&cycles(&g)), ["crate,info"]);
    }

    #[test]
    fn mod_rs_folders_are_followed() {
        let (_t, g) = tree(&[
            ("main.rs", "mod x;\nfn main() {}"),
            ("x/mod.rs", "mod y;\nuse y::Z;"),
            ("x/y.rs", "pub struct Z;"),
        ]);
        assert_eq!(g.modules.len(), 3);
        assert!(g
            .edges
            .contains_key(&(vec!["x".into()], vec!["x".into(), "y".into()])));
    }

    /// Every target of the workspace is scanned; these packages have no cycle and must keep it
    /// so: every crate of the workspace.
    #[test]
    fn the_workspace_has_no_cycles_where_it_had_none() {
        const CYCLE_FREE: &[&str] = &[
            "ckpt-sandbox",
            "conformance",
            "mutants",
            "refpod",
            "test-support",
            "xtask",
        ];
        let mut failures = vec![];
        for t in workspace_targets().unwrap() {
            let g = graph(&t.root).unwrap();
            let c = cycles(&g);
            let text = render(&t, &g, &c, false);
            eprint!("{text}");
            if !c.is_empty() && CYCLE_FREE.contains(&t.package.as_str()) {
                failures.push(text);
            }
        }
        assert!(failures.is_empty(), "{}", failures.concat());
    }
}

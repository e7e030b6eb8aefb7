//! Where a repository keeps its code, so that `gate init` writes implementation globs that
//! match it. The default `src/**` matches nothing in a Python package, a Go module or a Rails
//! app, and then nothing at all is enforced; this reads the common project layouts from the
//! files that declare them (Cargo.toml, pyproject.toml, package.json, go.mod, ...) and the
//! tracked files, and says how it chose.

use std::path::Path;

use globset::{GlobBuilder, GlobSetBuilder};

/// Implementation globs for a repository, and why they were chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub globs: Vec<String>,
    /// One line per reason, e.g. "Python package `mypkg` (pyproject.toml)".
    pub reasons: Vec<String>,
}

/// Directories that hold code in most ecosystems; none of them holds only tests or docs.
const CODE_DIRS: &[&str] = &[
    "src", "lib", "app", "pkg", "cmd", "internal", "crates", "packages",
];
/// Top-level directories that are never implementation on their own.
const NOT_CODE: &[&str] = &[
    "test",
    "tests",
    "docs",
    "doc",
    "specs",
    "spec-kit",
    "examples",
    "scripts",
    "build",
    "dist",
    "node_modules",
    "vendor",
    "venv",
    ".venv",
];

/// Reads the layout of the repository at `root`, whose tracked files are `tracked`.
pub fn detect(root: &Path, tracked: &[String]) -> Layout {
    let has = |f: &str| root.join(f).is_file();
    let mut found = Found::new(tracked);
    let mut add = |glob: String, reason: String| found.add(glob, reason);
    if has("Cargo.toml") {
        add("src/**".into(), "Rust crate (Cargo.toml)".into());
        add(
            "crates/*/src/**".into(),
            "Rust workspace crates (crates/*)".into(),
        );
    }
    if has("pyproject.toml") || has("setup.py") || has("setup.cfg") {
        let manifest = ["pyproject.toml", "setup.py", "setup.cfg"]
            .into_iter()
            .find(|f| has(f))
            .unwrap_or("pyproject.toml");
        add("src/**".into(), format!("Python src layout ({manifest})"));
        for pkg in python_packages(tracked) {
            add(
                format!("{pkg}/**"),
                format!("Python package `{pkg}` ({manifest})"),
            );
        }
    }
    if has("package.json") {
        for dir in [
            "src",
            "lib",
            "app",
            "pages",
            "components",
            "server",
            "client",
        ] {
            add(
                format!("{dir}/**"),
                format!("JavaScript/TypeScript {dir}/ (package.json)"),
            );
        }
        add(
            "packages/*/src/**".into(),
            "JavaScript/TypeScript workspace packages (package.json)".into(),
        );
    }
    if has("go.mod") {
        add(
            "**/*.go".into(),
            "Go module (go.mod): every .go file".into(),
        );
    }
    if has("pom.xml") || has("build.gradle") || has("build.gradle.kts") {
        add(
            "src/main/**".into(),
            "JVM project (pom.xml / build.gradle): src/main".into(),
        );
    }
    if has("Gemfile") {
        for dir in ["app", "lib"] {
            add(format!("{dir}/**"), format!("Ruby {dir}/ (Gemfile)"));
        }
    }
    if has("mix.exs") {
        add("lib/**".into(), "Elixir lib/ (mix.exs)".into());
    }
    if has("CMakeLists.txt") || has("Makefile") {
        for dir in ["src", "include", "lib"] {
            add(
                format!("{dir}/**"),
                format!("C/C++ {dir}/ (CMakeLists.txt / Makefile)"),
            );
        }
    }
    if found.globs.is_empty() {
        for dir in CODE_DIRS {
            found.add(
                format!("{dir}/**"),
                format!("a {dir}/ directory with tracked files"),
            );
        }
    }
    if found.globs.is_empty() {
        found.globs.push("src/**".into());
        found
            .reasons
            .push("no known layout and no tracked code yet: the default".into());
    }
    Layout {
        globs: found.globs,
        reasons: found.reasons,
    }
}

/// Globs kept so far: each only if it matches a tracked file, and only once.
struct Found<'a> {
    tracked: &'a [String],
    globs: Vec<String>,
    reasons: Vec<String>,
}

impl<'a> Found<'a> {
    fn new(tracked: &'a [String]) -> Found<'a> {
        Found {
            tracked,
            globs: Vec::new(),
            reasons: Vec::new(),
        }
    }

    fn add(&mut self, glob: String, reason: String) {
        if !self.globs.contains(&glob) && matches_any(&glob, self.tracked) {
            self.globs.push(glob);
            self.reasons.push(reason);
        }
    }
}

/// Top-level directories with an `__init__.py` (Python packages), tests and docs aside.
fn python_packages(tracked: &[String]) -> Vec<String> {
    let mut pkgs: Vec<String> = tracked
        .iter()
        .filter_map(|p| p.strip_suffix("/__init__.py"))
        .filter(|dir| !dir.contains('/'))
        .filter(|dir| !NOT_CODE.contains(dir))
        .map(str::to_owned)
        .collect();
    pkgs.sort();
    pkgs.dedup();
    pkgs
}

/// The tracked files that could be code: not gate's specs, not dot-files, not documents,
/// manifests or data (`.md`, `.toml`, `.json`, ...), not extension-less top-level files
/// (LICENSE, Makefile). The warning "your globs match no code" is about these.
pub fn code_files(tracked: &[String], spec_dir: &str) -> Vec<String> {
    const NOT_CODE_EXT: &[&str] = &[
        "md", "markdown", "txt", "rst", "adoc", "toml", "json", "yaml", "yml", "lock", "cfg",
        "ini", "csv", "svg", "png", "jpg", "gif", "ico", "pdf",
    ];
    let spec_prefix = format!("{spec_dir}/");
    tracked
        .iter()
        .filter(|p| !p.starts_with(&spec_prefix))
        .filter(|p| !p.split('/').any(|c| c.starts_with('.')))
        .filter(|p| {
            let name = p.rsplit('/').next().unwrap_or(p);
            match name.rsplit_once('.') {
                Some((_, ext)) => !NOT_CODE_EXT.contains(&ext.to_ascii_lowercase().as_str()),
                None => p.contains('/'),
            }
        })
        .cloned()
        .collect()
}

/// Whether `glob` (gate's semantics: `*` stays within a directory) matches a tracked file.
pub fn matches_any(glob: &str, tracked: &[String]) -> bool {
    let Ok(g) = GlobBuilder::new(glob).literal_separator(true).build() else {
        return false;
    };
    let m = g.compile_matcher();
    tracked.iter().any(|p| m.is_match(p))
}

/// How many tracked files `globs` match together.
pub fn count_matching(globs: &[String], tracked: &[String]) -> usize {
    let mut set = GlobSetBuilder::new();
    for glob in globs {
        if let Ok(g) = GlobBuilder::new(glob).literal_separator(true).build() {
            set.add(g);
        }
    }
    let Ok(set) = set.build() else {
        return 0;
    };
    tracked.iter().filter(|p| set.is_match(p)).count()
}

/// The `implementation = [...]` lines of `.gate.toml` for `layout`, with a comment saying how
/// they were chosen.
pub fn config_lines(layout: &Layout) -> String {
    let mut text = String::from("# Chosen by `gate init` from this repository's layout:\n");
    for r in &layout.reasons {
        text.push_str(&format!("#   {r}\n"));
    }
    let quoted: Vec<String> = layout.globs.iter().map(|g| format!("{g:?}")).collect();
    text.push_str(&format!("implementation = [{}]\n", quoted.join(", ")));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(files: &[&str]) -> (tempfile::TempDir, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        (dir, files.iter().map(|f| f.to_string()).collect())
    }

    #[test]
    fn a_python_package_outside_src_is_found() {
        let (dir, tracked) = repo(&[
            "pyproject.toml",
            "mypkg/__init__.py",
            "mypkg/core.py",
            "tests/__init__.py",
            "tests/test_core.py",
        ]);
        let l = detect(dir.path(), &tracked);
        assert_eq!(l.globs, vec!["mypkg/**"]);
        assert!(
            l.reasons[0].contains("Python package `mypkg`"),
            "{:?}",
            l.reasons
        );
    }

    #[test]
    fn common_layouts() {
        let cases: &[(&[&str], &[&str])] = &[
            (&["Cargo.toml", "src/main.rs"], &["src/**"]),
            (&["go.mod", "main.go", "internal/x/x.go"], &["**/*.go"]),
            (
                &["package.json", "src/index.ts", "components/A.tsx"],
                &["src/**", "components/**"],
            ),
            (
                &["pom.xml", "src/main/java/A.java", "src/test/java/T.java"],
                &["src/main/**"],
            ),
            (
                &["Gemfile", "app/models/u.rb", "lib/x.rb"],
                &["app/**", "lib/**"],
            ),
            (&["README.md", "lib/thing.sh"], &["lib/**"]),
            (&["README.md"], &["src/**"]),
        ];
        for (files, want) in cases {
            let (dir, tracked) = repo(files);
            assert_eq!(detect(dir.path(), &tracked).globs, *want, "{files:?}");
        }
    }

    #[test]
    fn the_config_lines_parse_and_say_why() {
        let l = Layout {
            globs: vec!["mypkg/**".into()],
            reasons: vec!["Python package `mypkg` (pyproject.toml)".into()],
        };
        let text = format!("[spec]\n{}", config_lines(&l));
        let c = crate::config::Config::parse(Path::new(".gate.toml"), text.as_bytes()).unwrap();
        assert_eq!(c.spec.implementation[0].0, "mypkg/**");
        assert!(text.contains("# Chosen by `gate init`"));
    }
}

//! The crate's floor plan, checked: no file of `src/` reaches, through the
//! `crate::`, `super::` and `self::` paths it names, back to itself, and no
//! module imports one from a layer above its own. A new cycle or an upward
//! import fails this test with the files and the path that ties them.
//!
//! Code under `#[cfg(test)]` is left out: a unit test may build fixtures from
//! any layer without making the shipped graph circular.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The top-level modules from the bottom floor up. A module may import its own
/// floor's other files (without a cycle) and anything below, never above.
const LAYERS: &[&[&str]] = &[
    &["domain"],
    &["config"],
    &["files", "telemetry"],
    &["store"],
    &["mail", "payments"],
    &["catalogue", "seed"],
    &["runtime"],
    &["bus"],
    &["actors"],
    &["system", "metrics"],
    &["http"],
    &["startup"],
];

/// A file of `src/` and the module path it defines (`["store", "sql"]` for
/// `src/store/sql/mod.rs`).
struct SourceFile {
    path: PathBuf,
    module: Vec<String>,
}

fn source_files(root: &Path) -> Vec<SourceFile> {
    fn walk(dir: &Path, root: &Path, files: &mut Vec<SourceFile>) {
        for entry in std::fs::read_dir(dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, root, files);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let relative = path.strip_prefix(root).expect("under src/");
                let mut module: Vec<String> = relative
                    .with_extension("")
                    .iter()
                    .map(|part| part.to_string_lossy().into_owned())
                    .collect();
                if module
                    .last()
                    .is_some_and(|last| last == "mod" || last == "lib")
                {
                    module.pop();
                }
                if module == ["main"] {
                    continue;
                }
                files.push(SourceFile { path, module });
            }
        }
    }
    let mut files = Vec::new();
    walk(root, root, &mut files);
    files
}

/// Every path a file names, resolved to an absolute module path.
struct PathCollector<'a> {
    module: &'a [String],
    /// Every module of the crate, so that a path starting at a child module
    /// (`use sql::orders;` in `store/mod.rs`) resolves too.
    modules: &'a BTreeSet<Vec<String>>,
    /// Nesting of inline modules inside the file, so `super` resolves right.
    inline: Vec<String>,
    found: BTreeSet<Vec<String>>,
    /// The names its `use` items bind, by module: `use super::email::Email`
    /// in `domain/mod.rs` binds `domain::Email` to `domain::email::Email`.
    bindings: BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>,
}

impl PathCollector<'_> {
    fn current(&self) -> Vec<String> {
        let mut current = self.module.to_vec();
        current.extend(self.inline.iter().cloned());
        current
    }

    fn resolve(&mut self, segments: Vec<String>) -> Option<Vec<String>> {
        let first = segments.first()?;
        let mut absolute = match first.as_str() {
            "crate" => Vec::new(),
            "self" => self.current(),
            "super" => {
                let mut current = self.current();
                current.pop();
                current
            }
            child => {
                let mut below = self.current();
                below.push(child.to_owned());
                if !self.modules.contains(&below) {
                    return None;
                }
                self.current()
            }
        };
        let skip = usize::from(matches!(first.as_str(), "crate" | "self" | "super"));
        let mut rest = segments.into_iter().skip(skip).peekable();
        while rest.peek().is_some_and(|segment| segment == "super") {
            rest.next();
            absolute.pop();
        }
        absolute.extend(rest);
        self.found.insert(absolute.clone());
        Some(absolute)
    }

    fn bind(&mut self, name: String, target: Option<Vec<String>>) {
        if let Some(target) = target {
            self.bindings
                .entry(self.current())
                .or_default()
                .insert(name, target);
        }
    }

    fn use_tree(&mut self, prefix: Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(path) => {
                let mut next = prefix;
                next.push(path.ident.to_string());
                self.use_tree(next, &path.tree);
            }
            syn::UseTree::Name(name) => {
                let mut full = prefix;
                if name.ident != "self" {
                    full.push(name.ident.to_string());
                }
                let alias = full.last().cloned();
                let target = self.resolve(full);
                if let Some(alias) = alias {
                    self.bind(alias, target);
                }
            }
            syn::UseTree::Rename(rename) => {
                let mut full = prefix;
                full.push(rename.ident.to_string());
                let target = self.resolve(full);
                self.bind(rename.rename.to_string(), target);
            }
            syn::UseTree::Glob(_) => {
                self.resolve(prefix);
            }
            syn::UseTree::Group(group) => {
                for item in &group.items {
                    self.use_tree(prefix.clone(), item);
                }
            }
        }
    }
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<syn::Meta>()
                .is_ok_and(|meta| meta.path().is_ident("test"))
    })
}

impl<'ast> Visit<'ast> for PathCollector<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(item) => &item.attrs,
            syn::Item::Fn(item) => &item.attrs,
            syn::Item::Impl(item) => &item.attrs,
            syn::Item::Use(item) => &item.attrs,
            syn::Item::Const(item) => &item.attrs,
            syn::Item::Struct(item) => &item.attrs,
            syn::Item::Enum(item) => &item.attrs,
            syn::Item::Static(item) => &item.attrs,
            syn::Item::Trait(item) => &item.attrs,
            syn::Item::Macro(item) => &item.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if is_test_only(attrs) {
            return;
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if item.content.is_some() {
            self.inline.push(item.ident.to_string());
            syn::visit::visit_item_mod(self, item);
            self.inline.pop();
        }
    }

    /// `pub(super)` names who may see an item, not what it uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments = path
            .segments
            .iter()
            .map(|segment| segment.ident.to_string())
            .collect();
        let _ = self.resolve(segments);
        syn::visit::visit_path(self, path);
    }
}

/// The file that defines the longest prefix of `path`.
fn owner<'a>(files: &'a [SourceFile], path: &[String]) -> Option<&'a SourceFile> {
    (0..=path.len())
        .rev()
        .find_map(|len| files.iter().find(|file| file.module == path[..len]))
}

fn layer_of(module: &[String]) -> Option<usize> {
    let top = module.first()?;
    LAYERS
        .iter()
        .position(|floor| floor.contains(&top.as_str()))
}

fn display(file: &SourceFile) -> String {
    file.path.display().to_string()
}

fn import_graph(files: &[SourceFile]) -> BTreeMap<usize, BTreeMap<usize, Vec<String>>> {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|file| file.module.clone()).collect();
    let mut bindings = BTreeMap::new();
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file.path).expect("a readable source file");
        let syntax = syn::parse_file(&text)
            .unwrap_or_else(|error| panic!("{} does not parse: {error}", display(file)));
        let mut collector = PathCollector {
            module: &file.module,
            modules: &modules,
            inline: Vec::new(),
            found: BTreeSet::new(),
            bindings: BTreeMap::new(),
        };
        collector.visit_file(&syntax);
        bindings.extend(collector.bindings);
        found.push(collector.found);
    }
    let mut graph: BTreeMap<usize, BTreeMap<usize, Vec<String>>> = BTreeMap::new();
    for (index, paths) in found.into_iter().enumerate() {
        let edges = graph.entry(index).or_default();
        for path in paths {
            let defined_at = definition(&modules, &bindings, path.clone());
            let Some(target) = owner(files, &defined_at) else {
                continue;
            };
            let target_index = files
                .iter()
                .position(|candidate| std::ptr::eq(candidate, target))
                .expect("an owner is one of the files");
            // `lib.rs` only declares the top-level modules.
            if target_index == index || target.module.is_empty() {
                continue;
            }
            edges.entry(target_index).or_default().push(path.join("::"));
        }
    }
    graph
}

/// Where the item a path names is defined: a name that a module only
/// imports (`pub use email::Email;`) is followed to the module it comes
/// from, so that a facade's children can name each other through it.
fn definition(
    modules: &BTreeSet<Vec<String>>,
    bindings: &BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>,
    mut path: Vec<String>,
) -> Vec<String> {
    for _ in 0..16 {
        let Some(module_len) = (0..=path.len())
            .rev()
            .find(|len| modules.contains(&path[..*len]))
        else {
            return path;
        };
        let Some(name) = path.get(module_len) else {
            return path;
        };
        let Some(target) = bindings
            .get(&path[..module_len])
            .and_then(|names| names.get(name))
        else {
            return path;
        };
        let mut next = target.clone();
        next.extend(path[module_len + 1..].iter().cloned());
        if next == path {
            return path;
        }
        path = next;
    }
    path
}

/// Tarjan's strongly connected components with more than one file.
fn cycles(graph: &BTreeMap<usize, BTreeMap<usize, Vec<String>>>, count: usize) -> Vec<Vec<usize>> {
    struct State<'g> {
        graph: &'g BTreeMap<usize, BTreeMap<usize, Vec<String>>>,
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        found: Vec<Vec<usize>>,
    }
    fn connect(state: &mut State<'_>, node: usize) {
        state.index[node] = Some(state.next);
        state.low[node] = state.next;
        state.next += 1;
        state.stack.push(node);
        state.on_stack[node] = true;
        let targets: Vec<usize> = state
            .graph
            .get(&node)
            .map(|edges| edges.keys().copied().collect())
            .unwrap_or_default();
        for target in targets {
            match state.index[target] {
                None => {
                    connect(state, target);
                    state.low[node] = state.low[node].min(state.low[target]);
                }
                Some(target_index) if state.on_stack[target] => {
                    state.low[node] = state.low[node].min(target_index);
                }
                Some(_) => {}
            }
        }
        if Some(state.low[node]) == state.index[node] {
            let mut component = Vec::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack[member] = false;
                component.push(member);
                if member == node {
                    break;
                }
            }
            if component.len() > 1 {
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: vec![None; count],
        low: vec![0; count],
        on_stack: vec![false; count],
        stack: Vec::new(),
        next: 0,
        found: Vec::new(),
    };
    for node in 0..count {
        if state.index[node].is_none() {
            connect(&mut state, node);
        }
    }
    state.found
}

#[test]
fn no_file_of_the_crate_imports_itself_through_others() {
    let files = source_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let graph = import_graph(&files);
    let circles = cycles(&graph, files.len());
    let report: Vec<String> = circles
        .iter()
        .map(|component| {
            let members: BTreeSet<usize> = component.iter().copied().collect();
            let ties: Vec<String> = component
                .iter()
                .flat_map(|from| {
                    graph[from]
                        .iter()
                        .filter(|(to, _)| members.contains(to))
                        .map(|(to, names)| {
                            format!(
                                "  {} -> {}: {}",
                                display(&files[*from]),
                                display(&files[*to]),
                                names.join(", ")
                            )
                        })
                        .collect::<Vec<_>>()
                })
                .collect();
            format!("a cycle of {} files:\n{}", component.len(), ties.join("\n"))
        })
        .collect();
    assert!(report.is_empty(), "{}", report.join("\n"));
}

#[test]
fn every_module_imports_only_its_own_floor_and_the_floors_below() {
    let files = source_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let graph = import_graph(&files);
    let mut upward = Vec::new();
    for (from, edges) in &graph {
        let Some(from_layer) = layer_of(&files[*from].module) else {
            continue;
        };
        for (to, names) in edges {
            let to_layer = layer_of(&files[*to].module)
                .unwrap_or_else(|| panic!("{} is on no floor of LAYERS", display(&files[*to])));
            if to_layer > from_layer {
                upward.push(format!(
                    "  {} -> {}: {}",
                    display(&files[*from]),
                    display(&files[*to]),
                    names.join(", ")
                ));
            }
        }
    }
    for file in &files {
        if !file.module.is_empty() {
            assert!(
                layer_of(&file.module).is_some(),
                "{} is on no floor of LAYERS",
                display(file)
            );
        }
    }
    assert!(
        upward.is_empty(),
        "imports from a higher floor:\n{}",
        upward.join("\n")
    );
}

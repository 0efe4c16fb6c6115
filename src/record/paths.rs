//! What a recording keeps of paths. Recordings get shared, so by default they keep file
//! names, not where the files are (`--record-paths` keeps everything): the recorded file's
//! path and, when observing a program, the files it maps, its argv and its output file become
//! names, and any other text (events, notes) has the recorded file's directory, the working
//! directory and the home directory taken out.

use serde_json::Value;
use std::path::Path;

pub struct PathPolicy {
    keep: bool,
    /// (prefix, replacement), longest first.
    prefixes: Vec<(String, String)>,
}

impl PathPolicy {
    pub fn new(keep: bool, recorded: &Path) -> PathPolicy {
        let mut dirs = Vec::new();
        let mut add = |p: Option<&Path>| {
            if let Some(p) = p {
                dirs.push(p.to_path_buf());
                if let Ok(c) = p.canonicalize() {
                    dirs.push(c);
                }
            }
        };
        let abs = std::path::absolute(recorded).ok();
        add(abs.as_deref().and_then(Path::parent));
        add(std::env::current_dir().ok().as_deref());
        let mut prefixes: Vec<(String, String)> = dirs
            .iter()
            .map(|d| (format!("{}/", d.display()), String::new()))
            .collect();
        if let Some(home) = std::env::var_os("HOME") {
            prefixes.push((format!("{}/", Path::new(&home).display()), "~/".into()));
        }
        // "/" itself would take every slash out.
        prefixes.retain(|(p, _)| p.len() > 1);
        prefixes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        prefixes.dedup();
        PathPolicy { keep, prefixes }
    }

    /// A path as the recording keeps it: its file name, or all of it with `--record-paths`.
    pub fn name(&self, p: &str) -> String {
        if self.keep {
            return p.to_string();
        }
        Path::new(p)
            .file_name()
            .map_or_else(|| p.to_string(), |n| n.to_string_lossy().into_owned())
    }

    /// A sentence as the recording keeps it: the known directories taken out.
    pub fn text(&self, s: &str) -> String {
        if self.keep {
            return s.to_string();
        }
        let mut out = s.to_string();
        for (p, r) in &self.prefixes {
            if out.contains(p.as_str()) {
                out = out.replace(p.as_str(), r);
            }
        }
        out
    }

    /// A snapshot's JSON as the recording keeps it.
    pub fn snapshot(&self, v: &mut Value) {
        if self.keep {
            return;
        }
        let name = |x: &mut Value| {
            if let Some(s) = x.as_str() {
                *x = self.name(s).into();
            }
        };
        name(&mut v["file"]["path"]);
        if let Some(o) = v.get_mut("observed").filter(|o| o.is_object()) {
            if let Some(files) = o["files"].as_array_mut() {
                for f in files {
                    name(&mut f[0]);
                }
            }
            if let Some(argv) = o["argv"].as_array_mut() {
                for a in argv
                    .iter_mut()
                    .filter(|a| a.as_str().is_some_and(|s| s.contains('/')))
                {
                    name(a);
                }
            }
            name(&mut o["output"]);
        }
        self.texts(v);
    }

    fn texts(&self, v: &mut Value) {
        match v {
            Value::String(s) if s.contains('/') => *s = self.text(s),
            Value::Array(a) => a.iter_mut().for_each(|x| self.texts(x)),
            Value::Object(m) => m.values_mut().for_each(|x| self.texts(x)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_stay_and_directories_go() {
        let p = PathPolicy::new(false, Path::new("/srv/class/data/lecture.db"));
        assert_eq!(p.name("/srv/class/data/lecture.db"), "lecture.db");
        assert_eq!(
            p.text("/srv/class/data/lecture.db reopened: it is another file now"),
            "lecture.db reopened: it is another file now"
        );
        let mut v = json!({
            "file": {"path": "/srv/class/data/lecture.db"},
            "message": "program: opened /srv/class/data/other.db",
            "events": [{"t_ms": 1, "text": "mapped: /srv/class/data/lecture.db"}],
            "observed": {
                "files": [["/srv/class/data/lecture.db", 4096], ["/usr/lib/libc.so.6", 8192]],
                "argv": ["python3", "/srv/scripts/query.py", "--point"],
                "output": "/root/.cache/mmviz/scratch/out-1",
                "file_note": null
            }
        });
        p.snapshot(&mut v);
        assert_eq!(v["file"]["path"], "lecture.db");
        assert_eq!(v["message"], "program: opened other.db");
        assert_eq!(v["events"][0]["text"], "mapped: lecture.db");
        assert_eq!(v["observed"]["files"][0][0], "lecture.db");
        assert_eq!(v["observed"]["files"][1][0], "libc.so.6");
        assert_eq!(
            v["observed"]["argv"],
            json!(["python3", "query.py", "--point"])
        );
        assert_eq!(v["observed"]["output"], "out-1");
        assert_eq!(v["observed"]["file_note"], Value::Null);
        assert!(!v.to_string().contains("/srv/"), "{v}");
    }

    #[test]
    fn record_paths_keeps_everything_and_root_is_not_a_prefix() {
        let keep = PathPolicy::new(true, Path::new("/srv/a.bin"));
        let mut v = json!({"file": {"path": "/srv/a.bin"}, "message": "/srv/a.bin"});
        let before = v.clone();
        keep.snapshot(&mut v);
        assert_eq!(v, before);
        // A file at the root: its directory "/" is not taken out of every path.
        let root = PathPolicy::new(false, Path::new("/a.bin"));
        assert!(
            root.text("/usr/lib/x").contains("/usr/lib/"),
            "{}",
            root.text("/usr/lib/x")
        );
    }
}

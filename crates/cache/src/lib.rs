//! The content-addressed cache of step results (SPEC §6).
//!
//! An entry is one file, `<dir>/<k0k1>/<key>.bin`:
//!
//! ```text
//! magic (16 bytes) | meta length (u32 LE) | payload length (u64 LE) | sha256(meta ‖ payload) | meta (JSON) | payload (postcard)
//! ```
//!
//! Writes go to a temporary file in the same directory tree and are renamed into place, so a
//! reader sees a whole entry or none, and two runs sharing one cache never see each other's
//! half-written files. Reads check the magic, both lengths and the hash: a truncated or corrupt
//! entry is reported as [`Lookup::Corrupt`] and never trusted.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use attrclust_core::{Artifact, Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 16] = b"ATTRCLUST-CACHE1";
const HEADER_LEN: usize = 16 + 4 + 8 + 32;

/// A cache key: sha256 over a canonical description of how a result was computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(pub [u8; 32]);

impl Key {
    pub fn hex(&self) -> String {
        hex(&self.0)
    }

    pub fn parse(hex_str: &str) -> Option<Key> {
        if hex_str.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex_str.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Key(out))
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Builds a key from labelled fields; each field is length-prefixed so no two different field
/// lists hash the same bytes.
#[derive(Default)]
pub struct KeyBuilder {
    hasher: Sha256,
}

impl KeyBuilder {
    pub fn new(domain: &str) -> Self {
        let mut b = KeyBuilder::default();
        b.field("domain", domain.as_bytes());
        b
    }

    pub fn field(&mut self, name: &str, value: &[u8]) -> &mut Self {
        for part in [name.as_bytes(), value] {
            self.hasher.update((part.len() as u64).to_le_bytes());
            self.hasher.update(part);
        }
        self
    }

    pub fn finish(self) -> Key {
        Key(self.hasher.finalize().into())
    }
}

/// sha256 of a file's content, streamed.
pub fn hash_file(path: &Path) -> std::io::Result<[u8; 32]> {
    use std::io::Read;
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher.finalize().into());
        }
        hasher.update(&buf[..n]);
    }
}

/// What is stored next to a result, for `cache ls` and messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryMeta {
    pub experiment: String,
    pub run: String,
    pub op: String,
    pub plugin_version: String,
}

pub enum Lookup {
    Hit(Box<Artifact>),
    Miss,
    /// The entry exists but cannot be trusted (truncated, wrong hash, unreadable): recompute.
    Corrupt(String),
}

pub struct EntryInfo {
    pub key: Key,
    pub size: u64,
    pub meta: Option<EntryMeta>,
}

pub struct Cache {
    dir: PathBuf,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Cache {
    /// Opens (creating if needed) a cache directory.
    pub fn open(dir: &Path) -> Result<Cache> {
        fs::create_dir_all(dir).map_err(|e| {
            Error::input(format!("cannot create the cache directory: {e}"))
                .at(dir.display().to_string())
                .hint("choose another folder with --cache-dir")
        })?;
        Ok(Cache {
            dir: dir.to_path_buf(),
        })
    }

    /// Opens an existing cache directory without creating it.
    pub fn existing(dir: &Path) -> Cache {
        Cache {
            dir: dir.to_path_buf(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn entry_path(&self, key: &Key) -> PathBuf {
        let h = key.hex();
        self.dir.join(&h[..2]).join(format!("{h}.bin"))
    }

    pub fn contains(&self, key: &Key) -> bool {
        self.entry_path(key).is_file()
    }

    /// Reads and verifies an entry.
    pub fn get(&self, key: &Key) -> Lookup {
        let path = self.entry_path(key);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
            Err(e) => return Lookup::Corrupt(format!("unreadable: {e}")),
        };
        match decode(&bytes) {
            Ok((_, payload)) => match postcard::from_bytes::<Artifact>(payload) {
                Ok(a) => Lookup::Hit(Box::new(a)),
                Err(e) => Lookup::Corrupt(format!("cannot decode: {e}")),
            },
            Err(why) => Lookup::Corrupt(why),
        }
    }

    /// Stores an entry atomically (temporary file + rename).
    pub fn put(&self, key: &Key, meta: &EntryMeta, artifact: &Artifact) -> Result<()> {
        let payload = postcard::to_stdvec(artifact)
            .map_err(|e| Error::run(format!("cannot encode a result for the cache: {e}")))?;
        let meta_json = serde_json::to_vec(meta).expect("meta serialises");
        let mut hasher = Sha256::new();
        hasher.update(&meta_json);
        hasher.update(&payload);
        let digest: [u8; 32] = hasher.finalize().into();

        let mut bytes = Vec::with_capacity(HEADER_LEN + meta_json.len() + payload.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(meta_json.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&digest);
        bytes.extend_from_slice(&meta_json);
        bytes.extend_from_slice(&payload);

        let path = self.entry_path(key);
        let io_err = |e: std::io::Error| {
            Error::run(format!("cannot write a cache entry: {e}"))
                .at(path.display().to_string())
                .hint("check free disk space and permissions, or use --cache-dir")
        };
        let parent = path.parent().expect("entries live in a subfolder");
        fs::create_dir_all(parent).map_err(io_err)?;
        let tmp = parent.join(format!(
            ".{}.{}.{}.tmp",
            key.hex(),
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err(e)
        })
    }

    pub fn remove(&self, key: &Key) -> std::io::Result<()> {
        fs::remove_file(self.entry_path(key))
    }

    /// Every entry in the cache, sorted by key. Entries whose header is unreadable are listed
    /// without meta.
    pub fn list(&self) -> Vec<EntryInfo> {
        let mut out = Vec::new();
        let Ok(dirs) = fs::read_dir(&self.dir) else {
            return out;
        };
        for sub in dirs.flatten() {
            let Ok(files) = fs::read_dir(sub.path()) else {
                continue;
            };
            for file in files.flatten() {
                let name = file.file_name();
                let Some(key) = name
                    .to_str()
                    .and_then(|n| n.strip_suffix(".bin"))
                    .and_then(Key::parse)
                else {
                    continue;
                };
                let size = file.metadata().map(|m| m.len()).unwrap_or(0);
                out.push(EntryInfo {
                    key,
                    size,
                    meta: read_meta(&file.path()),
                });
            }
        }
        out.sort_by_key(|e| e.key);
        out
    }

    /// Removes every entry (and leftover temporary files); returns how many entries went.
    pub fn clear(&self) -> std::io::Result<usize> {
        let n = self.list().len();
        if self.dir.exists() {
            for sub in fs::read_dir(&self.dir)?.flatten() {
                let name = sub.file_name();
                let is_entry_dir = name.len() == 2
                    && name
                        .to_str()
                        .is_some_and(|n| n.chars().all(|c| c.is_ascii_hexdigit()));
                if is_entry_dir {
                    fs::remove_dir_all(sub.path())?;
                }
            }
        }
        Ok(n)
    }
}

fn decode(bytes: &[u8]) -> std::result::Result<(EntryMeta, &[u8]), String> {
    if bytes.len() < HEADER_LEN || &bytes[..16] != MAGIC {
        return Err("not a cache entry (bad header)".into());
    }
    let meta_len = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    let payload_len = u64::from_le_bytes(bytes[20..28].try_into().unwrap()) as usize;
    let expected = HEADER_LEN
        .checked_add(meta_len)
        .and_then(|n| n.checked_add(payload_len));
    if expected != Some(bytes.len()) {
        return Err(format!(
            "truncated or padded: {} bytes, header says {}",
            bytes.len(),
            expected.map_or("more".to_string(), |n| n.to_string())
        ));
    }
    let body = &bytes[HEADER_LEN..];
    let digest: [u8; 32] = Sha256::digest(body).into();
    if digest[..] != bytes[28..60] {
        return Err("content does not match its checksum".into());
    }
    let meta = serde_json::from_slice(&body[..meta_len]).map_err(|e| format!("bad meta: {e}"))?;
    Ok((meta, &body[meta_len..]))
}

fn read_meta(path: &Path) -> Option<EntryMeta> {
    use std::io::Read;
    let mut f = fs::File::open(path).ok()?;
    let mut header = [0u8; HEADER_LEN];
    f.read_exact(&mut header).ok()?;
    if &header[..16] != MAGIC {
        return None;
    }
    let meta_len = u32::from_le_bytes(header[16..20].try_into().unwrap()) as usize;
    if meta_len > 1 << 20 {
        return None;
    }
    let mut meta = vec![0u8; meta_len];
    f.read_exact(&mut meta).ok()?;
    serde_json::from_slice(&meta).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrclust_core::{Clustering, MetricValue};

    fn meta() -> EntryMeta {
        EntryMeta {
            experiment: "e".into(),
            run: "kmeans".into(),
            op: "kmeans".into(),
            plugin_version: "1".into(),
        }
    }

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "attrclust-cache-test-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn roundtrip_and_listing() {
        let dir = tmpdir("roundtrip");
        let cache = Cache::open(&dir).unwrap();
        let key = KeyBuilder::new("t").finish();
        assert!(matches!(cache.get(&key), Lookup::Miss));
        let a = Artifact::Clustering(Clustering::new(vec![0, 1, -1]));
        cache.put(&key, &meta(), &a).unwrap();
        match cache.get(&key) {
            Lookup::Hit(b) => assert_eq!(*b, a),
            _ => panic!("expected a hit"),
        }
        let list = cache.list();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].meta.as_ref().unwrap().run, "kmeans");
        assert_eq!(cache.clear().unwrap(), 1);
        assert!(matches!(cache.get(&key), Lookup::Miss));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn truncated_and_flipped_entries_are_corrupt() {
        let dir = tmpdir("corrupt");
        let cache = Cache::open(&dir).unwrap();
        let key = KeyBuilder::new("t").finish();
        let a = Artifact::Metric(MetricValue::defined(0.5));
        cache.put(&key, &meta(), &a).unwrap();
        let path = cache.entry_path(&key);
        let bytes = fs::read(&path).unwrap();

        fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert!(matches!(cache.get(&key), Lookup::Corrupt(why) if why.contains("truncated")));

        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 0x40;
        fs::write(&path, &flipped).unwrap();
        assert!(matches!(cache.get(&key), Lookup::Corrupt(why) if why.contains("checksum")));

        fs::write(&path, b"garbage").unwrap();
        assert!(matches!(cache.get(&key), Lookup::Corrupt(_)));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn key_fields_are_length_prefixed() {
        let mut a = KeyBuilder::new("t");
        a.field("x", b"ab").field("y", b"c");
        let mut b = KeyBuilder::new("t");
        b.field("x", b"a").field("y", b"bc");
        assert_ne!(a.finish(), b.finish());
        let k = KeyBuilder::new("t").finish();
        assert_eq!(Key::parse(&k.hex()), Some(k));
    }
}

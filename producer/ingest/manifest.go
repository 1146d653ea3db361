package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"gocloud.dev/gcerrors"

	"github.com/nerstream/nerstream/internal/sink"
)

// ManifestVersion is the format version of the manifest file.
const ManifestVersion = 1

// FileEntry is the manifest's record of one input file.
type FileEntry struct {
	// Name is the file's base name (the key of the entry and the batches'
	// source.file).
	Name string `json:"name"`
	// Size is the file's size in bytes.
	Size int64 `json:"size"`
	// SHA256 is the hex SHA-256 of the file's bytes.
	SHA256 string `json:"sha256"`
	// Format is "pubmed" or "jsonl".
	Format string `json:"format"`
	// Topic is the topic the batches went to.
	Topic string `json:"topic"`
	// BatchDocs and BatchBytes are the batch settings used; a resume reuses
	// them so that batch ids stay the same.
	BatchDocs  int `json:"batch_docs"`
	BatchBytes int `json:"batch_bytes"`
	// Batches is the number of acknowledged batches.
	Batches int64 `json:"batches"`
	// Docs is the number of documents in acknowledged batches.
	Docs int64 `json:"docs"`
	// Rejected is the number of records rejected so far (a resumed file may
	// count some twice).
	Rejected int64 `json:"rejected"`
	// LastIndex is the record index (PubMed) or line number (JSON lines) of
	// the last document of the last acknowledged batch; -1 when none.
	LastIndex int64 `json:"last_index"`
	// LastBatchID is the id of the last acknowledged batch.
	LastBatchID string `json:"last_batch_id,omitempty"`
	// Done is set once every record of the file was published or rejected.
	Done bool `json:"done"`
	// Error is the reason the file could not be read to its end, if any.
	Error string `json:"error,omitempty"`
	// Started and Updated are when publishing began and last progressed.
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
}

// Manifest records which input files were published. It is safe for
// concurrent use; Save writes it through its Store.
type Manifest struct {
	mu    sync.Mutex
	store ManifestStore
	files map[string]*FileEntry
}

type manifestJSON struct {
	Version int          `json:"version"`
	Updated time.Time    `json:"updated"`
	Files   []*FileEntry `json:"files"`
}

// ManifestStore loads and saves the manifest's bytes.
type ManifestStore interface {
	// Load returns the stored manifest, or (nil, nil) when there is none.
	Load(ctx context.Context) ([]byte, error)
	// Save replaces the stored manifest atomically.
	Save(ctx context.Context, data []byte) error
	// String names the location in logs and errors.
	String() string
}

// NewManifest returns an empty manifest saved to store (nil: kept in memory
// only).
func NewManifest(store ManifestStore) *Manifest {
	return &Manifest{store: store, files: map[string]*FileEntry{}}
}

// LoadManifest reads the manifest from store; a missing one is empty.
func LoadManifest(ctx context.Context, store ManifestStore) (*Manifest, error) {
	m := NewManifest(store)
	data, err := store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("load manifest %s: %w", store, err)
	}
	if data == nil {
		return m, nil
	}
	var mj manifestJSON
	if err := json.Unmarshal(data, &mj); err != nil {
		return nil, fmt.Errorf("load manifest %s: %w", store, err)
	}
	if mj.Version != ManifestVersion {
		return nil, fmt.Errorf("load manifest %s: version %d is not supported (want %d)", store, mj.Version, ManifestVersion)
	}
	for _, e := range mj.Files {
		if e == nil || e.Name == "" {
			return nil, fmt.Errorf("load manifest %s: entry without a name", store)
		}
		if _, dup := m.files[e.Name]; dup {
			return nil, fmt.Errorf("load manifest %s: file %s listed twice", store, e.Name)
		}
		m.files[e.Name] = e
	}
	return m, nil
}

// Entry returns a copy of the entry for the base name, if any.
func (m *Manifest) Entry(name string) (FileEntry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.files[name]
	if !ok {
		return FileEntry{}, false
	}
	return *e, true
}

// Entries returns copies of all entries, sorted by name.
func (m *Manifest) Entries() []FileEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]FileEntry, 0, len(m.files))
	for _, e := range m.files {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Put stores e (replacing the entry of the same name) and saves.
func (m *Manifest) Put(ctx context.Context, e FileEntry) error {
	m.mu.Lock()
	e.Updated = time.Now().UTC()
	m.files[e.Name] = &e
	data, err := m.marshalLocked()
	m.mu.Unlock()
	if err != nil || m.store == nil {
		return err
	}
	if err := m.store.Save(ctx, data); err != nil {
		return fmt.Errorf("save manifest %s: %w", m.store, err)
	}
	return nil
}

func (m *Manifest) marshalLocked() ([]byte, error) {
	mj := manifestJSON{Version: ManifestVersion, Updated: time.Now().UTC()}
	for _, e := range m.files {
		mj.Files = append(mj.Files, e)
	}
	sort.Slice(mj.Files, func(i, j int) bool { return mj.Files[i].Name < mj.Files[j].Name })
	data, err := json.MarshalIndent(mj, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(data, '\n'), nil
}

// OpenManifestStore returns the store for location: a local path, or a
// bucket URL whose last path element is the manifest's key, e.g.
// s3://bucket/prefix/manifest.json?endpoint=http://minio:9000&use_path_style=true
// (schemes and query parameters as for the worker's --out; see
// sink.OpenBucket). Close releases it.
func OpenManifestStore(ctx context.Context, location string) (ManifestStore, func() error, error) {
	if location == "" {
		return nil, nil, errors.New("empty manifest location")
	}
	u, err := url.Parse(location)
	if err != nil || u.Scheme == "" || len(u.Scheme) == 1 { // "C:\..." is a path
		return FileStore(location), func() error { return nil }, nil
	}
	dir, key := path.Split(u.Path)
	if key == "" {
		return nil, nil, fmt.Errorf("manifest URL %s names a directory, not an object", location)
	}
	bu := *u
	bu.Path = dir
	if u.Scheme == "file" {
		bu.Path = strings.TrimSuffix(dir, "/")
		if bu.Path == "" {
			bu.Path = "/"
		}
	}
	st, err := sink.OpenBucket(ctx, bu.String())
	if err != nil {
		return nil, nil, fmt.Errorf("manifest %s: %w", location, err)
	}
	if p := st.Prefix(); p != "" {
		key = p + "/" + key
	}
	bs := &bucketStore{st: st, key: key, name: location}
	return bs, st.Close, nil
}

// FileStore keeps the manifest in a local file, replaced atomically (write
// to a temporary file in the same directory, then rename).
type FileStore string

// Load implements ManifestStore.
func (f FileStore) Load(context.Context) ([]byte, error) {
	data, err := os.ReadFile(string(f))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// Save implements ManifestStore.
func (f FileStore) Save(_ context.Context, data []byte) error {
	dir := filepath.Dir(string(f))
	tmp, err := os.CreateTemp(dir, ".manifest-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), string(f))
}

// String implements ManifestStore.
func (f FileStore) String() string { return string(f) }

type bucketStore struct {
	st   *sink.Store
	key  string
	name string
}

func (b *bucketStore) Load(ctx context.Context) ([]byte, error) {
	data, err := b.st.Bucket().ReadAll(ctx, b.key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, nil
	}
	return data, err
}

func (b *bucketStore) Save(ctx context.Context, data []byte) error {
	return b.st.Bucket().WriteAll(ctx, b.key, data, nil)
}

func (b *bucketStore) String() string { return b.name }

// Package corpus locates the JNLPBA corpus files that tests, benchmarks and
// tools read: the devel split committed under testdata/jnlpba, and the
// training split that lives outside the repository.
package corpus

import (
	"os"
	"path/filepath"

	"github.com/nerstream/nerstream/internal/config"
)

// Env names a directory searched first.
const Env = "NERSTREAM_JNLPBA"

// Path returns the path of a JNLPBA file (e.g. "devel.docs.jsonl",
// "train.iob2"): $NERSTREAM_JNLPBA, then testdata/jnlpba under the
// repository root (the nearest directory holding go.mod, from the working
// directory up) and the shared data directory next to it
// (../shared/data/jnlpba). ok is false when the file is nowhere; callers skip
// what needs it.
func Path(name string) (path string, ok bool) {
	var dirs []string
	if d := os.Getenv(Env); d != "" {
		dirs = append(dirs, d)
	}
	if root := repoRoot(); root != "" {
		dirs = append(dirs, filepath.Join(root, "testdata", "jnlpba"), filepath.Join(root, "..", "shared", "data", "jnlpba"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, true
		}
	}
	return "", false
}

func repoRoot() string {
	for _, p := range config.SearchUp("go.mod") {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return filepath.Dir(p)
		}
	}
	return ""
}

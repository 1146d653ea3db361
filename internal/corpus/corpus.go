// Package corpus locates the JNLPBA corpus files that tests, benchmarks and
// tools read: the devel split committed under testdata/jnlpba, and the
// training split that lives outside the repository.
package corpus

import (
	"os"
	"path/filepath"
)

// Env names a directory searched first.
const Env = "NERSTREAM_JNLPBA"

// Path returns the path of a JNLPBA file (e.g. "devel.docs.jsonl",
// "train.iob2"): $NERSTREAM_JNLPBA, then testdata/jnlpba and
// ../shared/data/jnlpba next to the repository root (found by walking up from
// the working directory to go.mod), then /work/shared/data/jnlpba. ok is false
// when the file is nowhere; callers skip what needs it.
func Path(name string) (path string, ok bool) {
	var dirs []string
	if d := os.Getenv(Env); d != "" {
		dirs = append(dirs, d)
	}
	if root := repoRoot(); root != "" {
		dirs = append(dirs, filepath.Join(root, "testdata", "jnlpba"), filepath.Join(root, "..", "shared", "data", "jnlpba"))
	}
	dirs = append(dirs, "/work/shared/data/jnlpba")
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, true
		}
	}
	return "", false
}

func repoRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

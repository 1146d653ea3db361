package corpus

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPath(t *testing.T) {
	p, ok := Path("devel.docs.jsonl")
	if !ok {
		t.Fatal("the committed devel split was not found")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	if _, ok := Path("no-such-file.jsonl"); ok {
		t.Fatal("found a file that does not exist")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "devel.docs.jsonl"), []byte("{}\n"), 0o644)
	t.Setenv(Env, dir)
	if p, _ := Path("devel.docs.jsonl"); p != filepath.Join(dir, "devel.docs.jsonl") {
		t.Fatalf("%s did not take precedence: %s", Env, p)
	}
}

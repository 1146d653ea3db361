package model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func replaceIn(t *testing.T, path, old, new string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	writeFile(t, path, strings.Replace(string(raw), old, new, 1))
}

// crfFor writes a valid crf.json of n labels whose scores are all v.
func crfFor(t *testing.T, dir string, n int, v float32) {
	t.Helper()
	c := CRF{Transitions: make([][]float32, n), Start: make([]float32, n), End: make([]float32, n)}
	for i := range c.Transitions {
		c.Transitions[i] = make([]float32, n)
		c.Transitions[i][0], c.Start[i] = v, v
	}
	raw, _ := json.Marshal(c)
	writeFile(t, filepath.Join(dir, "crf.json"), string(raw))
}

// vocabOnly turns the copy into a vocab.txt + tokenizer_config.json bundle.
func vocabOnly(t *testing.T, dir string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
}

// TestVersionCoversOutputInputs changes one file of a bundle at a time: a
// change to anything that can change the output changes the version, a
// change to anything else keeps it.
func TestVersionCoversOutputInputs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		base    func(t *testing.T, dir string) // applied to both bundles
		edit    func(t *testing.T, dir string)
		changes bool
	}{
		{"graph bytes", nil, func(t *testing.T, d string) {
			f, err := os.OpenFile(filepath.Join(d, "model.onnx"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte{0})
			f.Close()
		}, true},
		{"renamed labels", nil, func(t *testing.T, d string) {
			editConfig(t, d, func(m map[string]any) {
				l := m["id2label"].(map[string]any)
				l["1"], l["2"] = "B-gene", "I-gene"
			})
		}, true},
		{"max_length", nil, func(t *testing.T, d string) {
			editConfig(t, d, func(m map[string]any) { m["nerstream"].(map[string]any)["max_length"] = 64 })
		}, true},
		{"decoding", nil, func(t *testing.T, d string) {
			editConfig(t, d, func(m map[string]any) { m["nerstream"].(map[string]any)["decoding"] = "argmax" })
		}, true},
		{"crf.json added", nil, func(t *testing.T, d string) { crfFor(t, d, 11, 0) }, true},
		{"crf.json changed", func(t *testing.T, d string) { crfFor(t, d, 11, 0) }, func(t *testing.T, d string) { crfFor(t, d, 11, 1) }, true},
		{"tokenizer.json", nil, func(t *testing.T, d string) {
			replaceIn(t, filepath.Join(d, "tokenizer.json"), `"lowercase": false`, `"lowercase": true`)
		}, true},
		{"vocab.txt read", vocabOnly, func(t *testing.T, d string) {
			replaceIn(t, filepath.Join(d, "vocab.txt"), "[MASK]\n", "[MASK]\nzzzextra\n")
		}, true},
		{"tokenizer_config.json read", vocabOnly, func(t *testing.T, d string) {
			replaceIn(t, filepath.Join(d, "tokenizer_config.json"), `"do_lower_case": false`, `"do_lower_case": true`)
		}, true},
		{"vocab.txt unread next to tokenizer.json", nil, func(t *testing.T, d string) {
			replaceIn(t, filepath.Join(d, "vocab.txt"), "[MASK]\n", "[MASK]\nzzzextra\n")
		}, false},
		{"README.md added", nil, func(t *testing.T, d string) { writeFile(t, filepath.Join(d, "README.md"), "# notes\n") }, false},
		{"MODEL_CARD.md changed", func(t *testing.T, d string) { writeFile(t, filepath.Join(d, "MODEL_CARD.md"), "v1\n") },
			func(t *testing.T, d string) { writeFile(t, filepath.Join(d, "MODEL_CARD.md"), "v2, new figures\n") }, false},
		{"descriptive config fields", nil, func(t *testing.T, d string) {
			editConfig(t, d, func(m map[string]any) {
				m["nerstream"].(map[string]any)["purpose"] = "something else"
				m["nerstream"].(map[string]any)["devel_f1_single_viterbi"] = 99.9
				m["hidden_act"] = "relu"
			})
		}, false},
		{"config.json layout and name", nil, func(t *testing.T, d string) {
			editConfig(t, d, func(m map[string]any) { m["nerstream"].(map[string]any)["name"] = "renamed" })
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prep := func(d string) {
				if tc.base != nil {
					tc.base(t, d)
				}
			}
			a, err := LoadBundle(copyBundle(t, prep))
			if err != nil {
				t.Fatal(err)
			}
			b, err := LoadBundle(copyBundle(t, func(d string) { prep(d); tc.edit(t, d) }))
			if err != nil {
				t.Fatal(err)
			}
			if changed := a.Version != b.Version; changed != tc.changes {
				t.Fatalf("version changed = %v, want %v\nbefore:\n%s\nafter:\n%s", changed, tc.changes, a.Manifest, b.Manifest)
			}
		})
	}
}

// TestVersionRule recomputes the version of testdata/tinybert by the rule
// the package doc states, independently of bundleVersion, so the version
// (and with it every output directory and default group) cannot drift
// with a refactoring; loading twice, or from another directory, agrees.
func TestVersionRule(t *testing.T) {
	b, err := LoadBundle(tiny)
	if err != nil {
		t.Fatal(err)
	}
	sum := func(raw []byte) string { s := sha256.Sum256(raw); return hex.EncodeToString(s[:]) }
	file := func(name string) string {
		raw, err := os.ReadFile(filepath.Join(tiny, name))
		if err != nil {
			t.Fatal(err)
		}
		return sum(raw)
	}
	// The fields LoadBundle reads, keys sorted, nerstream.name empty.
	canon := `{"id2label":{"0":"O","1":"B-DNA","10":"I-protein","2":"I-DNA","3":"B-RNA","4":"I-RNA","5":"B-cell_line",` +
		`"6":"I-cell_line","7":"B-cell_type","8":"I-cell_type","9":"B-protein"},"max_position_embeddings":128,"num_labels":11,` +
		`"nerstream":{"name":"","max_length":128,"decoding":"bio-viterbi"}}`
	manifest := fmt.Sprintf("nerstream model version 2\nconfig.json %s\nmodel.onnx %s\ntokenizer.json %s\n",
		sum([]byte(canon)), file("model.onnx"), file("tokenizer.json"))
	if b.Manifest != manifest {
		t.Fatalf("manifest:\n%s\nwant:\n%s", b.Manifest, manifest)
	}
	if b.Version != sum([]byte(manifest)) {
		t.Fatalf("version %s is not the SHA-256 of the manifest", b.Version)
	}
	again, err := LoadBundle(copyBundle(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if again.Version != b.Version {
		t.Fatalf("a copy of the bundle has version %s, the original %s", again.Version, b.Version)
	}
}

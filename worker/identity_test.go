package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nerstream/nerstream/internal/model"
)

// relabelled copies the test bundle with the DNA labels renamed: the same
// graph, tokenizer and decoding, outputs that mean something else.
func relabelled(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tinybert")
	copyDir(t, testModel, dir)
	p := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	l := cfg["id2label"].(map[string]any)
	l["1"], l["2"] = "B-gene", "I-gene"
	if raw, err = json.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestGroupRefusesAnotherModelVersion: a worker annotates a topic under an
// explicit --group; a worker with a relabelled bundle (same name and graph,
// another version) and the same --group refuses to start, naming both
// versions, instead of starting at the first model's commits and writing
// nothing; the first bundle restarted under the group goes on.
func TestGroupRefusesAnotherModelVersion(t *testing.T) {
	c := newCluster(t, 2)
	docs := testDocs(t, 12)
	const per = 2
	c.publish(docs[:8], per, 0)
	c.startWorker(0)
	c.waitRows(ids(docs[:8]), 120*time.Second)
	c.stopAll()

	orig, err := model.LoadBundle(testModel)
	if err != nil {
		t.Fatal(err)
	}
	other, err := model.LoadBundle(relabelled(t))
	if err != nil {
		t.Fatal(err)
	}
	if other.Version == orig.Version {
		t.Fatal("relabelled bundle kept the version")
	}
	args := []string{"run", "--brokers", strings.Join(c.b.Addrs(), ","), "--topic", c.topic, "--group", c.group,
		"--model", other.Dir, "--out", c.outURL, "--metrics-addr", ""}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	began := time.Now()
	out, err := exec.CommandContext(ctx, filepath.Join(binaries(t), "worker"), args...).CombinedOutput()
	refusedIn := time.Since(began)
	if ctx.Err() != nil {
		t.Fatalf("the relabelled worker did not refuse the group within 60s:\n%s", out)
	}
	if err == nil {
		t.Fatalf("the relabelled worker ran under the other model's group:\n%s", out)
	}
	for _, v := range []string{orig.Version, other.Version} {
		if !strings.Contains(string(out), v) {
			t.Fatalf("the refusal does not name version %s:\n%s", v, out)
		}
	}

	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	t.Logf("refused in %s: %s", refusedIn.Round(time.Millisecond), lines[len(lines)-1])

	c.startWorker(0)
	c.waitJoined(0, 30*time.Second)
	c.publish(docs[8:], per, 0)
	rows := c.waitRows(ids(docs), 120*time.Second)
	c.stopAll()
	checkExactlyOnce(t, rows, docs, per)
}

// TestOutputRefusesOtherSettings: a worker annotates into an output; a
// worker with the same bundle but another decoding and label filter, under
// a group of its own, refuses to write into the same model directory, naming
// the differing settings, instead of mixing files that mean something else.
func TestOutputRefusesOtherSettings(t *testing.T) {
	c := newCluster(t, 1)
	docs := testDocs(t, 4)
	c.publish(docs, 2, 0)
	c.startWorker(0)
	c.waitRows(ids(docs), 120*time.Second)
	c.stopAll()

	args := []string{"run", "--brokers", strings.Join(c.addrs, ","), "--topic", c.topic, "--group", c.group + "-argmax",
		"--model", testModel, "--out", c.outURL, "--metrics-addr", "", "--decoding", "argmax", "--labels", "protein"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(binaries(t), "worker"), args...).CombinedOutput()
	if ctx.Err() != nil || err == nil {
		t.Fatalf("a worker with other settings ran into the same output (%v):\n%s", err, out)
	}
	for _, want := range []string{`decoding: recorded "viterbi", now "argmax"`, `labels: recorded [], now ["protein"]`, "another --out"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("the refusal does not say %q:\n%s", want, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	t.Logf("refused: %s", lines[len(lines)-1])
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nerstream/nerstream/internal/queue"
)

// metricsURL waits until worker i logs the address it serves /metrics on.
func scrape(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return b
}

// promQLMetric finds metric names in PromQL: identifiers that are followed
// by a selector or range, or stand before a closing parenthesis/operator.
var promQLMetric = regexp.MustCompile(`\b((?:nerstream|process|go)_[a-z0-9_]+|up)\b\s*[{\[)]`)

// referencedMetrics returns the metric names used by the alert rules and the
// Grafana dashboard, mapped to the files that use them.
func referencedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, f := range []string{"../deploy/prometheus/alerts.yml", "../deploy/grafana/nerstream.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range promQLMetric.FindAllStringSubmatch(string(b), -1) {
			if !slices.Contains(out[m[1]], f) {
				out[m[1]] = append(out[m[1]], f)
			}
		}
	}
	if len(out) < 10 {
		t.Fatalf("found only %d metric names in the rules and dashboard: %v", len(out), out)
	}
	return out
}

// TestLiveMetrics scrapes a running worker that has annotated documents and
// dead-lettered a poison record: promtool check metrics accepts the output,
// and every metric used by deploy/prometheus/alerts.yml and
// deploy/grafana/nerstream.json is exported.
func TestLiveMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtool not installed (make setup installs Debian's prometheus): %v", err)
		}
		t.Skipf("promtool not installed (run make setup): %v", err)
	}
	c := newCluster(t, 2)
	docs := testDocs(t, 12)
	c.startWorker(0)
	c.waitJoined(0, 60*time.Second)
	url := "http://" + c.metrics[0] + "/metrics"
	c.publish(docs, 3, 0)
	pub, err := queue.NewPublisher(context.Background(), c.b.Addrs(), c.topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(context.Background(), queue.Message{Key: []byte("poison"), Value: []byte("{not json")}); err != nil {
		t.Fatal(err)
	}
	pub.Close()
	c.waitCovered(modelDir(t), 120*time.Second)
	// Lag is refreshed by the worker's fetch loop: wait for the gauge.
	var body []byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		body = scrape(t, url)
		if bytes.Contains(body, []byte("nerstream_consumer_lag_records{")) && bytes.Contains(body, []byte("nerstream_dead_letters_total{")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no lag or dead-letter series after 30s:\n%s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.stopAll()

	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}

	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	exported := map[string]bool{"up": true} // up is made by Prometheus itself
	for name, mf := range families {
		exported[name] = true
		switch mf.GetType().String() {
		case "HISTOGRAM":
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				exported[name+s] = true
			}
		case "SUMMARY":
			exported[name+"_sum"], exported[name+"_count"] = true, true
		}
	}
	var missing []string
	refs := referencedMetrics(t)
	for name, files := range refs {
		if !exported[name] {
			missing = append(missing, fmt.Sprintf("%s (used in %s)", name, strings.Join(files, ", ")))
		}
	}
	if len(missing) > 0 {
		t.Fatalf("metrics used by alerts or dashboard but not exported by the worker: %v", missing)
	}
	t.Logf("promtool check metrics: ok; %d metric families exported, all %d used by alerts and dashboard among them", len(families), len(refs))
}

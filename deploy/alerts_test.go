package deploy

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/nerstream/nerstream/internal/metrics"
	"sigs.k8s.io/yaml"
)

// TestAlertsUseRealMetrics keeps the alert rules true: every nerstream_*
// metric an expression uses is one the worker exports, and the file is
// mounted where prometheus.yml's rule_files expects it.
func TestAlertsUseRealMetrics(t *testing.T) {
	data, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `json:"alert"`
				Expr  string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	m.PartitionStuck.WithLabelValues("0").Set(0) // vectors appear once they have a child
	m.DeadLetters.WithLabelValues("x")
	m.Lag.WithLabelValues("0")
	m.HeldRecords.WithLabelValues("0")
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, f := range fams {
		known[f.GetName()] = true
	}
	name := regexp.MustCompile(`nerstream_[a-z_]+`)
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			for _, used := range name.FindAllString(r.Expr, -1) {
				if !known[used] {
					t.Errorf("alert %s uses %s, which the worker does not export", r.Alert, used)
				}
			}
		}
	}
	if n < 3 {
		t.Fatalf("%d alert rules, want the stopped, stuck and dead-letter alerts", n)
	}
	prom, _ := os.ReadFile("prometheus/prometheus.yml")
	compose, _ := os.ReadFile("../docker-compose.yml")
	// rule_files resolve against prometheus.yml's directory (/etc/prometheus in compose).
	if !strings.Contains(string(prom), "- alerts.yml") || !strings.Contains(string(compose), "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml") {
		t.Fatal("alerts.yml is not loaded by prometheus.yml or not mounted by docker-compose.yml")
	}
}

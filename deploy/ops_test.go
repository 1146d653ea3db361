package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// promtool returns the path of promtool (Debian package prometheus, installed
// by make setup).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtool not installed (make setup installs Debian's prometheus): %v", err)
		}
		t.Skipf("promtool not installed (run make setup): %v", err)
	}
	return p
}

func runPromtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Record      string            `json:"record"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

type ruleTests struct {
	RuleFiles []string `json:"rule_files"`
	Tests     []struct {
		AlertRuleTest []struct {
			Alertname string            `json:"alertname"`
			ExpAlerts []json.RawMessage `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// readmeAnchors returns the GitHub anchors of docs/operations.md's headings
// (the runbooks).
func readmeAnchors(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		out[strings.ReplaceAll(drop.ReplaceAllString(h, ""), " ", "-")] = true
	}
	return out
}

var wantAlerts = []string{
	"NerstreamConsumerLagGrowing", "NerstreamNoProgress", "NerstreamUploadErrors",
	"NerstreamDeadLetters", "NerstreamWorkerRestarts", "NerstreamWorkerDown",
	"NerstreamPartitionStopped", "NerstreamPartitionStuck", "NerstreamDeadLetterFailures", "NerstreamRecordsHeld",
}

// TestAlertRules: promtool accepts the rules and the Prometheus config that
// loads them, the promtool unit tests pass, every alert is tested both firing
// and quiet, has a severity, and its runbook_url names a docs/operations.md section.
func TestAlertRules(t *testing.T) {
	dir := "prometheus"
	out := runPromtool(t, dir, "check", "rules", "alerts.yml")
	t.Log(strings.TrimSpace(out))
	runPromtool(t, dir, "check", "config", "prometheus.yml")
	out = runPromtool(t, dir, "test", "rules", "alerts_test.yml")
	t.Log(strings.TrimSpace(out))

	var rules ruleFile
	readYAML(t, filepath.Join(dir, "alerts.yml"), &rules)
	var tests ruleTests
	readYAML(t, filepath.Join(dir, "alerts_test.yml"), &tests)
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	anchors := readmeAnchors(t)
	var got []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			got = append(got, r.Alert)
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary annotation", r.Alert)
			}
			u := r.Annotations["runbook_url"]
			anchor, ok := strings.CutPrefix(u, "docs/operations.md#")
			if !ok || !anchors[anchor] {
				t.Errorf("%s: runbook_url %q does not name a docs/operations.md heading", r.Alert, u)
			}
			if anchor != "runbook-"+strings.ToLower(r.Alert) {
				t.Errorf("%s: runbook anchor %q, want runbook-%s", r.Alert, anchor, strings.ToLower(r.Alert))
			}
			if !fires[r.Alert] || !quiet[r.Alert] {
				t.Errorf("%s: alerts_test.yml must test it firing (%v) and quiet (%v)", r.Alert, fires[r.Alert], quiet[r.Alert])
			}
		}
	}
	slices.Sort(got)
	want := slices.Clone(wantAlerts)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("alerts %v, want %v", got, want)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
}

// dashboard is the part of a Grafana dashboard JSON the tests read.
type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID          int    `json:"id"`
		Type        string `json:"type"`
		Title       string `json:"title"`
		Description string `json:"description"`
		Datasource  struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		GridPos struct{ X, Y, W, H int } `json:"gridPos"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("grafana/nerstream.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("grafana/nerstream.json: %v", err)
	}
	return d
}

// grafanaVars replaces the dashboard's variables by values Prometheus
// accepts, so that promtool can parse each panel expression.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$job", "nerstream-worker.*")

// TestGrafanaDashboard loads the dashboard, checks its layout and that it
// covers throughput, slot utilization, lag and errors, and has promtool
// parse every panel expression (as recording rules). That the metrics exist
// is checked against a live worker in worker/ops_test.go.
func TestGrafanaDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.Title == "" || d.UID == "" {
		t.Fatalf("dashboard without title or uid: %q %q", d.Title, d.UID)
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	if !vars["datasource"] || !vars["job"] {
		t.Fatalf("dashboard variables %v, want datasource and job", vars)
	}
	type cell struct{ x, y int }
	used := map[cell]int{}
	ids := map[int]bool{}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	var titles []string
	for _, p := range d.Panels {
		titles = append(titles, strings.ToLower(p.Title))
		if p.ID == 0 || ids[p.ID] {
			t.Errorf("panel %q: id %d missing or repeated", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Type != "timeseries" || p.Description == "" || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: type %q, description %q, datasource %q", p.Title, p.Type, p.Description, p.Datasource.UID)
		}
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: bad gridPos %+v", p.Title, p.GridPos)
		}
		for x := p.GridPos.X; x < p.GridPos.X+p.GridPos.W; x++ {
			for y := p.GridPos.Y; y < p.GridPos.Y+p.GridPos.H; y++ {
				if other, ok := used[cell{x, y}]; ok {
					t.Fatalf("panel %q overlaps panel %d at (%d,%d)", p.Title, other, x, y)
				}
				used[cell{x, y}] = p.ID
			}
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: refId %q missing or repeated", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if !strings.Contains(tg.Expr, `job=~"$job"`) {
				t.Errorf("panel %q query %s: not filtered by the job variable: %s", p.Title, tg.RefID, tg.Expr)
			}
			fmt.Fprintf(&rules, "      - record: panel_%d_%s\n        expr: %q\n", p.ID, tg.RefID, grafanaVars.Replace(tg.Expr))
		}
	}
	all := strings.Join(titles, "\n")
	for _, topic := range []string{"throughput", "slot utilization", "lag", "errors"} {
		if !strings.Contains(all, topic) {
			t.Errorf("no panel about %s (titles: %v)", topic, titles)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "panels.yml"), []byte(rules.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Log(strings.TrimSpace(runPromtool(t, dir, "check", "rules", "panels.yml")))
}

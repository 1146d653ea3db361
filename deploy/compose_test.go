package deploy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"sigs.k8s.io/yaml"
)

// composeFile is the stack definition at the repository root.
const composeFile = "../docker-compose.yml"

// loadCompose parses, validates (compose-spec JSON schema), interpolates and
// normalises the compose file the way `docker compose` does, with every
// profile enabled and only the defaults written in the file (no shell env).
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatalf("read %s: %v", composeFile, err)
	}
	details := types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml"), Content: data}},
		Environment: types.Mapping{},
	}
	p, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
		o.SetProjectName("nerstream", true)
		o.Profiles = []string{"*"}
	})
	if err != nil {
		t.Fatalf("load %s: %v", composeFile, err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("%s: service %q missing", composeFile, name)
	}
	return s
}

func envOf(s types.ServiceConfig) map[string]string {
	m := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			m[k] = *v
		} else {
			m[k] = ""
		}
	}
	return m
}

func TestComposeServices(t *testing.T) {
	p := loadCompose(t)
	for _, name := range []string{"kafka", "kafka-init", "minio", "minio-init", "producer", "worker", "worker-gpu", "prometheus"} {
		service(t, p, name)
	}
}

// ourServices run the nerstream image; the others are third-party images.
var ourServices = []string{"producer", "worker", "worker-gpu"}

func TestComposeWorkersScalable(t *testing.T) {
	p := loadCompose(t)
	for _, name := range []string{"worker", "worker-gpu"} {
		s := service(t, p, name)
		if s.ContainerName != "" {
			t.Errorf("%s: container_name %q prevents --scale", name, s.ContainerName)
		}
		for _, port := range s.Ports {
			t.Errorf("%s: publishes port %s:%d; scaled replicas would collide (use expose)", name, port.Published, port.Target)
		}
		if !slices.Contains(s.Expose, metricsPort(t, envOf(s))) {
			t.Errorf("%s: expose %v lacks the metrics port", name, s.Expose)
		}
		if len(s.Command) == 0 || s.Command[0] != "run" {
			t.Errorf("%s: command %v, want `run` (ENTRYPOINT is the worker)", name, s.Command)
		}
	}
}

// metricsPort returns the port of NERSTREAM_METRICS_ADDR.
func metricsPort(t *testing.T, env map[string]string) string {
	t.Helper()
	addr := env["NERSTREAM_METRICS_ADDR"]
	i := strings.LastIndex(addr, ":")
	if i < 0 || i == len(addr)-1 {
		t.Fatalf("NERSTREAM_METRICS_ADDR %q has no port", addr)
	}
	return addr[i+1:]
}

func TestComposeHealthchecks(t *testing.T) {
	p := loadCompose(t)
	for _, name := range []string{"kafka", "minio", "worker", "worker-gpu", "prometheus"} {
		s := service(t, p, name)
		if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) < 2 {
			t.Errorf("%s: no usable healthcheck: %+v", name, s.HealthCheck)
			continue
		}
		if s.HealthCheck.Interval == nil || s.HealthCheck.Retries == nil {
			t.Errorf("%s: healthcheck needs an interval and retries", name)
		}
	}
	// The worker image is distroless: its check cannot rely on a shell or curl.
	for _, name := range []string{"worker", "worker-gpu"} {
		hc := service(t, p, name).HealthCheck
		if hc != nil && (hc.Test[0] != "CMD" || hc.Test[1] != "/app/bin/healthprobe") {
			t.Errorf("%s: healthcheck %v; the distroless image has only /app/bin/healthprobe", name, hc.Test)
		}
	}
}

func TestComposeDependsOn(t *testing.T) {
	p := loadCompose(t)
	want := []struct{ svc, dep, cond string }{
		{"kafka-init", "kafka", types.ServiceConditionHealthy},
		{"minio-init", "minio", types.ServiceConditionHealthy},
		{"producer", "kafka-init", types.ServiceConditionCompletedSuccessfully},
		{"producer", "minio-init", types.ServiceConditionCompletedSuccessfully},
		{"worker", "kafka", types.ServiceConditionHealthy},
		{"worker", "kafka-init", types.ServiceConditionCompletedSuccessfully},
		{"worker", "minio-init", types.ServiceConditionCompletedSuccessfully},
		{"worker-gpu", "kafka-init", types.ServiceConditionCompletedSuccessfully},
	}
	for _, w := range want {
		d, ok := service(t, p, w.svc).DependsOn[w.dep]
		if !ok {
			t.Errorf("%s: no depends_on %s", w.svc, w.dep)
			continue
		}
		if d.Condition != w.cond {
			t.Errorf("%s: depends_on %s condition %q, want %q", w.svc, w.dep, d.Condition, w.cond)
		}
	}
	// Structural rules for every edge: waiting for health needs a healthcheck,
	// waiting for completion needs a one-shot that is not restarted.
	for name, s := range p.Services {
		for dep, d := range s.DependsOn {
			target := service(t, p, dep)
			switch d.Condition {
			case types.ServiceConditionHealthy:
				if target.HealthCheck == nil || target.HealthCheck.Disable {
					t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
				}
			case types.ServiceConditionCompletedSuccessfully:
				if target.Restart != "" && target.Restart != types.RestartPolicyNo {
					t.Errorf("%s waits for %s to complete, but %s has restart %q", name, dep, dep, target.Restart)
				}
			}
		}
	}
}

func TestComposeEnvNames(t *testing.T) {
	p := loadCompose(t)
	for _, name := range ourServices {
		s := service(t, p, name)
		env := envOf(s)
		names := make([]string, 0, len(env))
		for k := range env {
			names = append(names, k)
		}
		if bad := unknownEnv(names); len(bad) > 0 {
			t.Errorf("%s: env names not in the agreed list: %v", name, bad)
		}
		for k, v := range env {
			if v == "" {
				t.Errorf("%s: %s is empty", name, k)
			}
		}
	}
	for _, name := range []string{"worker", "worker-gpu"} {
		env := envOf(service(t, p, name))
		for _, k := range []string{"NERSTREAM_BROKERS", "NERSTREAM_TOPIC", "NERSTREAM_OUT", "NERSTREAM_GROUP", "NERSTREAM_DLQ_TOPIC", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
			if env[k] == "" {
				t.Errorf("%s: %s not set", name, k)
			}
		}
		if env["NERSTREAM_DLQ_TOPIC"] != env["NERSTREAM_TOPIC"]+".dlq" {
			t.Errorf("%s: DLQ topic %q, want %q (created by kafka-init)", name, env["NERSTREAM_DLQ_TOPIC"], env["NERSTREAM_TOPIC"]+".dlq")
		}
		if !strings.HasPrefix(env["NERSTREAM_OUT"], "s3://") || !strings.Contains(env["NERSTREAM_OUT"], "endpoint=http://minio:9000") {
			t.Errorf("%s: NERSTREAM_OUT %q does not point at the minio service", name, env["NERSTREAM_OUT"])
		}
	}
	if got := envOf(service(t, p, "worker-gpu"))["NERSTREAM_DEVICE"]; got != "cuda" {
		t.Errorf("worker-gpu: NERSTREAM_DEVICE %q, want cuda", got)
	}
}

func TestComposeGracefulStop(t *testing.T) {
	p := loadCompose(t)
	for _, name := range []string{"worker", "worker-gpu"} {
		s := service(t, p, name)
		drain, err := time.ParseDuration(envOf(s)["NERSTREAM_SHUTDOWN_TIMEOUT"])
		if err != nil {
			t.Errorf("%s: NERSTREAM_SHUTDOWN_TIMEOUT: %v", name, err)
			continue
		}
		if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= drain {
			t.Errorf("%s: stop_grace_period %v must exceed the shutdown timeout %v, or Docker kills the drain", name, s.StopGracePeriod, drain)
		}
	}
}

func TestComposeTopicsAndProducer(t *testing.T) {
	p := loadCompose(t)
	init := service(t, p, "kafka-init")
	script := strings.Join(init.Command, " ")
	for _, want := range []string{"kafka-topics.sh", "--create", "--if-not-exists", "--partitions", ".dlq"} {
		if !strings.Contains(script, want) {
			t.Errorf("kafka-init: script lacks %q", want)
		}
	}
	if got, want := envOf(init)["TOPIC"], envOf(service(t, p, "worker"))["NERSTREAM_TOPIC"]; got != want {
		t.Errorf("kafka-init creates topic %q, workers read %q", got, want)
	}
	prod := service(t, p, "producer")
	if len(prod.Entrypoint) == 0 || prod.Entrypoint[0] != "/app/bin/producer" || len(prod.Command) == 0 || prod.Command[0] != "pubmed" {
		t.Errorf("producer: entrypoint %v command %v, want /app/bin/producer pubmed ...", prod.Entrypoint, prod.Command)
	}
	if bad := unknownFlags(prod.Command, producerFlags); len(bad) > 0 {
		t.Errorf("producer: unknown flags %v", bad)
	}
	var mounted bool
	for _, v := range prod.Volumes {
		if v.Type == types.VolumeTypeBind && strings.HasSuffix(filepath.ToSlash(v.Source), "/testdata/pubmed") && slices.Contains(prod.Command, v.Target) {
			mounted = true
			if !v.ReadOnly {
				t.Errorf("producer: %s should be mounted read-only", v.Source)
			}
		}
	}
	if !mounted {
		t.Errorf("producer: ./testdata/pubmed is not mounted where the command reads (%v)", prod.Command)
	}
	if prod.Restart != "" && prod.Restart != types.RestartPolicyNo {
		t.Errorf("producer: restart %q, want a one-shot", prod.Restart)
	}
}

func TestComposeBuilds(t *testing.T) {
	p := loadCompose(t)
	for _, name := range ourServices {
		s := service(t, p, name)
		if s.Build == nil {
			t.Errorf("%s: no build section", name)
			continue
		}
		df := filepath.Join(s.Build.Context, s.Build.Dockerfile)
		if _, err := os.Stat(df); err != nil {
			t.Errorf("%s: dockerfile: %v", name, err)
		}
		if _, err := os.Stat(filepath.Join(s.Build.Context, "go.mod")); err != nil {
			t.Errorf("%s: build context %s is not the repository root: %v", name, s.Build.Context, err)
		}
	}
}

// promConfig is the part of prometheus.yml the tests read.
type promConfig struct {
	ScrapeConfigs []struct {
		JobName     string `json:"job_name"`
		MetricsPath string `json:"metrics_path"`
		DNSSD       []struct {
			Names []string `json:"names"`
			Type  string   `json:"type"`
			Port  int      `json:"port"`
		} `json:"dns_sd_configs"`
	} `json:"scrape_configs"`
}

func TestComposePrometheus(t *testing.T) {
	p := loadCompose(t)
	prom := service(t, p, "prometheus")
	var cfgPath string
	for _, v := range prom.Volumes {
		if v.Target == "/etc/prometheus/prometheus.yml" {
			cfgPath = v.Source
		}
	}
	if cfgPath == "" {
		t.Fatal("prometheus: config file not mounted at /etc/prometheus/prometheus.yml")
	}
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatalf("prometheus config: %v", err)
	}
	var cfg promConfig
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("parse %s: %v", cfgPath, err)
	}
	for _, name := range []string{"worker", "worker-gpu"} {
		port := metricsPort(t, envOf(service(t, p, name)))
		found := false
		for _, sc := range cfg.ScrapeConfigs {
			for _, sd := range sc.DNSSD {
				if slices.Contains(sd.Names, name) {
					found = true
					if sd.Type != "A" || port != strconv.Itoa(sd.Port) {
						t.Errorf("%s: dns_sd type %s port %d, want A and the metrics port %s", sc.JobName, sd.Type, sd.Port, port)
					}
					if sc.MetricsPath != "/metrics" {
						t.Errorf("%s: metrics_path %q, want /metrics", sc.JobName, sc.MetricsPath)
					}
				}
			}
		}
		if !found {
			t.Errorf("prometheus: no dns_sd_configs entry for service %q", name)
		}
	}
}

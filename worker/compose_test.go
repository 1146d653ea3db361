package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nerstream/nerstream/internal/apachekafka"
	"github.com/nerstream/nerstream/internal/metrics"
	"github.com/nerstream/nerstream/internal/queue"
	"github.com/nerstream/nerstream/internal/sink"
)

// TestComposeTopology runs docker-compose.yml without Docker: every service
// the default profile starts (but Prometheus) becomes a local process with
// the environment and command the compose file gives it, so that what the
// file says is proven, not only its syntax:
//
//   - kafka: Apache Kafka (scripts/apache-kafka.sh, the same version) with
//     the service's KAFKA_* settings as server.properties lines, except
//     those naming the node and its listeners (the script's loopback ones);
//   - minio: the MinIO binary with the service's command and credentials;
//   - kafka-init, minio-init: their shell scripts, run by /bin/sh with the
//     service's environment; kafka-topics.sh and mc, which are not here, are
//     replaced by recorders, and the test performs what they recorded (topic
//     creation through the Kafka protocol, bucket creation through S3);
//   - producer and worker (deploy.replicas of them): the local binaries as
//     the image's /app/bin/producer and /app/bin/worker, with the image's
//     ENV (deploy/Dockerfile) under the service's environment.
//
// Host names and container paths are mapped to local ones: kafka:9092 → the
// broker's loopback address, http://minio:9000 → the local MinIO, a volume's
// target → its source, the image's model → the test model, and each
// worker's metrics address :9090 → a loopback port of its own (containers
// have a network each). Each worker must report the compose file's
// settings at start-up and pass the service's healthcheck (the healthprobe
// command); workers are stopped with the service's stop_signal and must exit
// within its stop_grace_period. Then every PubMed record the producer
// published has its marker row in MinIO exactly once.
func TestComposeTopology(t *testing.T) {
	bins := binaries(t)
	if testing.Short() {
		t.Skip("compose topology skipped in -short mode")
	}
	p := loadComposeFile(t)
	svc := func(name string) types.ServiceConfig {
		s, ok := p.Services[name]
		if !ok {
			t.Fatalf("docker-compose.yml: no service %q", name)
		}
		return s
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	// kafka
	kafkaCfg, err := composeKafkaConfig(svc("kafka"))
	if err != nil {
		t.Fatal(err)
	}
	kdir, err := os.MkdirTemp("", "nerstream-compose-kafka-")
	if err != nil {
		t.Fatal(err)
	}
	k, err := apachekafka.Start(ctx, filepath.Join(kdir, "cluster"), 1, kafkaCfg...)
	if err != nil {
		os.RemoveAll(kdir)
		t.Fatalf("kafka service: %v\n(run `make setup` for Java, Maven and the Kafka jars)", err)
	}
	t.Cleanup(func() {
		if err := k.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("kafka service logs kept in %s", k.Dir)
		} else {
			os.RemoveAll(kdir)
		}
	})
	t.Logf("kafka: Apache Kafka at %s in %.1fs with %v", k.Addrs()[0], k.StartTime.Seconds(), kafkaCfg)

	// minio
	m := startComposeMinIO(t, svc("minio"), dir)
	t.Logf("minio: %s", m.URL)

	mapping := strings.NewReplacer("kafka:9092", k.Addrs()[0], "http://minio:9000", m.URL)

	// kafka-init and minio-init
	topics := runInitScript(t, ctx, svc("kafka-init"), "/opt/kafka/bin/kafka-topics.sh", mapping, dir)
	for _, inv := range topics {
		if err := kafkaTopics(ctx, k.Addrs()[0], inv); err != nil {
			t.Fatalf("kafka-init: kafka-topics.sh %s: %v", strings.Join(inv, " "), err)
		}
	}
	mcCalls := runInitScript(t, ctx, svc("minio-init"), "mc", mapping, dir)
	if err := mc(ctx, mcCalls); err != nil {
		t.Fatalf("minio-init: %v", err)
	}

	// worker × deploy.replicas, then the producer.
	ws := svc("worker")
	replicas := ws.GetScale()
	if replicas < 2 {
		t.Fatalf("docker-compose.yml: worker runs %d replicas, want at least 2", replicas)
	}
	imageEnv := map[string]string{ // deploy/Dockerfile ENV, mapped
		"NERSTREAM_MODEL": testModel, "NERSTREAM_DEVICE": "cpu", "NERSTREAM_METRICS_ADDR": ":9090",
	}
	workerEnv := serviceEnv(ws, mapping)
	type proc struct {
		cmd     *exec.Cmd
		metrics string
		exited  chan error
	}
	var workers []*proc
	t.Cleanup(func() {
		for _, w := range workers {
			w.cmd.Process.Kill()
			<-w.exited
		}
	})
	for i := range replicas {
		env := map[string]string{}
		for k, v := range imageEnv {
			env[k] = v
		}
		for k, v := range workerEnv {
			env[k] = v
		}
		addr := freeAddr(t)
		if env["NERSTREAM_METRICS_ADDR"] != ":9090" {
			t.Fatalf("worker: NERSTREAM_METRICS_ADDR %q, the healthcheck and Prometheus expect :9090", env["NERSTREAM_METRICS_ADDR"])
		}
		env["NERSTREAM_METRICS_ADDR"] = addr
		cmd := exec.Command(filepath.Join(bins, "worker"), ws.Command...) // ENTRYPOINT ["/app/bin/worker"]
		cmd.Env = processEnv(env)
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("worker-%d.log", i)))
		if err != nil {
			t.Fatal(err)
		}
		defer logf.Close()
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w := &proc{cmd: cmd, metrics: addr, exited: make(chan error, 1)}
		go func() { w.exited <- cmd.Wait() }()
		workers = append(workers, w)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i := range workers {
				b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("worker-%d.log", i)))
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")
				t.Logf("--- worker %d (last 30 lines)\n%s", i, strings.Join(lines[max(0, len(lines)-30):], "\n"))
			}
		}
	})
	partitions, err := strconv.Atoi(serviceEnv(svc("kafka-init"), mapping)["PARTITIONS"])
	if err != nil {
		t.Fatalf("kafka-init: PARTITIONS: %v", err)
	}
	// Every replica joins the group and together they own every partition.
	waitFor(t, ctx, "both workers own partitions, all of them together", func() (bool, string) {
		total, each := 0, true
		var got []int
		for _, w := range workers {
			s, err := metrics.Scrape(ctx, w.metrics)
			n := int(s[metrics.NamePartitions])
			if err != nil {
				n = 0
			}
			got = append(got, n)
			total += n
			each = each && n > 0
		}
		return each && total == partitions, fmt.Sprint(got)
	})

	// Each worker runs with the compose file's settings (a misspelt
	// variable would leave a default in place).
	for i := range workers {
		checkComposeSettings(t, filepath.Join(dir, fmt.Sprintf("worker-%d.log", i)), workerEnv)
	}
	// The worker's healthcheck, with the worker's environment.
	hc := ws.HealthCheck
	if hc == nil || len(hc.Test) != 2 || hc.Test[0] != "CMD" || hc.Test[1] != "/app/bin/healthprobe" {
		t.Fatalf("worker: healthcheck %v, want [CMD /app/bin/healthprobe]", hc)
	}
	probe := filepath.Join(dir, "healthprobe")
	if out, err := exec.Command("go", "build", "-o", probe, "../deploy/healthprobe").CombinedOutput(); err != nil {
		t.Fatalf("go build healthprobe: %v\n%s", err, out)
	}
	for i, w := range workers {
		cmd := exec.Command(probe)
		cmd.Env = processEnv(map[string]string{"NERSTREAM_METRICS_ADDR": w.metrics})
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("worker %d: healthcheck %v: %v\n%s", i, hc.Test, err, out)
		}
	}

	ps := svc("producer")
	pargs := mapVolumes(ps, ps.Command)
	if len(ps.Entrypoint) != 1 || ps.Entrypoint[0] != "/app/bin/producer" {
		t.Fatalf("producer: entrypoint %v, want [/app/bin/producer]", ps.Entrypoint)
	}
	pc := exec.CommandContext(ctx, filepath.Join(bins, "producer"), pargs...)
	pc.Env = processEnv(serviceEnv(ps, mapping))
	out, err := pc.CombinedOutput()
	if err != nil {
		t.Fatalf("producer %v: %v\n%s", pargs, err, out)
	}
	t.Logf("producer %v: %s", pargs, bytes.TrimSpace(out))

	topic := workerEnv["NERSTREAM_TOPIC"]
	hwm, err := queue.HighWatermarks(ctx, queue.Config{Brokers: k.Addrs()}, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, h := range hwm {
		total += h
	}
	if len(hwm) != partitions || total == 0 {
		t.Fatalf("topic %s: %d partitions, %d records; want %d partitions and records", topic, len(hwm), total, partitions)
	}
	// The workers store every record (a file closes once its
	// NERSTREAM_FLUSH_INTERVAL bucket has ended and the partition is idle) ...
	for k, v := range serviceEnv(ws, mapping) {
		if strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, v)
		}
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	st, err := sink.OpenBucket(ctx, workerEnv["NERSTREAM_OUT"])
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mdir := modelDir(t)
	t0 := time.Now()
	waitFor(t, ctx, fmt.Sprintf("the output in MinIO covers all %d records", total), func() (bool, string) {
		var done int64
		for p := range hwm {
			last, ok, err := st.LastOffset(ctx, mdir, topic, p)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				done += last + 1
			}
		}
		return done >= total, fmt.Sprintf("%d of %d", done, total)
	})
	t.Logf("output covers every record %s after the producer", time.Since(t0).Round(time.Second))
	// ... and stop_signal drains them within stop_grace_period.
	sig := syscall.SIGTERM
	if ws.StopSignal != "" && ws.StopSignal != "SIGTERM" {
		t.Fatalf("worker: stop_signal %s, the worker drains on SIGTERM", ws.StopSignal)
	}
	grace := 10 * time.Second // compose's default
	if ws.StopGracePeriod != nil {
		grace = time.Duration(*ws.StopGracePeriod)
	}
	for i, w := range workers {
		w.cmd.Process.Signal(sig)
		select {
		case err := <-w.exited:
			if err != nil {
				t.Fatalf("worker %d exited with %v after %v", i, err, sig)
			}
			w.exited <- nil
		case <-time.After(grace):
			t.Fatalf("worker %d still runs %s (stop_grace_period) after %v", i, grace, sig)
		}
	}

	// What the compose stack stored: the output and the producer's manifest.
	rows, err := st.ReadAll(ctx, mdir)
	if err != nil {
		t.Fatal(err)
	}
	markers, chunks := map[string]int{}, map[string]int{}
	for _, r := range rows {
		key := fmt.Sprintf("%s/v%d/%s", r.DocID, r.DocVersion, r.Op)
		if r.ChunkIndex == sink.DocumentMarker {
			markers[key]++
		} else {
			chunks[fmt.Sprintf("%s/%d", key, r.ChunkIndex)]++
		}
	}
	recs := parsedPubMed(t)
	for _, r := range recs {
		op := string(r.Doc.Op)
		if op == "" {
			op = "upsert"
		}
		if n := markers[fmt.Sprintf("%s/v%d/%s", r.Doc.ID, r.Doc.Version, op)]; n != 1 {
			t.Fatalf("record %s v%d %s has %d marker rows in MinIO, want 1", r.Doc.ID, r.Doc.Version, op, n)
		}
	}
	if len(markers) != len(recs) {
		t.Fatalf("%d marker rows in MinIO for %d published records", len(markers), len(recs))
	}
	for key, n := range chunks {
		if n != 1 {
			t.Fatalf("chunk %s appears %d times in MinIO", key, n)
		}
	}
	manifest, err := url.Parse(serviceEnv(ps, mapping)["NERSTREAM_MANIFEST"])
	if err != nil {
		t.Fatal(err)
	}
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(m.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(m.User, m.Pass, "")})
	if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(manifest.Host), Key: aws.String(strings.TrimPrefix(manifest.Path, "/"))}); err != nil {
		t.Fatalf("producer manifest %s not in MinIO: %v", manifest, err)
	}
	dlq, err := queue.HighWatermarks(ctx, queue.Config{Brokers: k.Addrs()}, workerEnv["NERSTREAM_DLQ_TOPIC"])
	if err != nil {
		t.Fatalf("dead-letter topic: %v", err)
	}
	for p, h := range dlq {
		if h != 0 {
			t.Fatalf("%s/%d holds %d dead letters; every PubMed test record is valid", workerEnv["NERSTREAM_DLQ_TOPIC"], p, h)
		}
	}
	t.Logf("%d records in %d partitions, %d marker rows, %d chunks, each once, in MinIO", total, len(hwm), len(markers), len(chunks))
}

// checkComposeSettings checks that the worker whose log is at path runs with
// env's topic, group, output, dead-letter topic, flush settings and batch,
// as its start-up lines report them.
func checkComposeSettings(t *testing.T, path string, env map[string]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]map[string]any{}
	for _, l := range bytes.Split(b, []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(l, &m) == nil {
			if msg, ok := m["msg"].(string); ok {
				lines[msg] = m
			}
		}
	}
	running, session := lines["worker running"], lines["model session ready"]
	if running == nil || session == nil {
		t.Fatalf("%s: no `worker running` or `model session ready` line", path)
	}
	str := func(m map[string]any, k string) string { return fmt.Sprint(m[k]) }
	dur := func(v string) time.Duration {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s: duration %q: %v", path, v, err)
		}
		return d
	}
	for _, c := range []struct{ name, got, want string }{
		{"NERSTREAM_TOPIC", str(running, "topic"), env["NERSTREAM_TOPIC"]},
		{"NERSTREAM_GROUP", str(running, "group"), env["NERSTREAM_GROUP"]},
		{"NERSTREAM_OUT", str(running, "out"), env["NERSTREAM_OUT"]},
		{"NERSTREAM_DLQ_TOPIC", str(running, "dlq"), env["NERSTREAM_DLQ_TOPIC"]},
		{"NERSTREAM_FLUSH_RECORDS", str(running, "flush_records"), env["NERSTREAM_FLUSH_RECORDS"]},
		{"NERSTREAM_FLUSH_INTERVAL", dur(str(running, "flush_interval")).String(), dur(env["NERSTREAM_FLUSH_INTERVAL"]).String()},
		{"NERSTREAM_BATCH", str(session, "batch"), env["NERSTREAM_BATCH"]},
		{"NERSTREAM_DEVICE", str(session, "device"), env["NERSTREAM_DEVICE"]},
	} {
		if c.got != c.want {
			t.Errorf("%s: the worker runs with %s %q, the compose file sets %q", path, c.name, c.got, c.want)
		}
	}
}

// loadComposeFile loads docker-compose.yml the way `docker compose up` does
// (default profile, only the defaults written in the file).
func loadComposeFile(t *testing.T) *types.Project {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "docker-compose.yml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir: root, ConfigFiles: []types.ConfigFile{{Filename: path, Content: data}}, Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("nerstream", true) })
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	return p
}

// kafkaNodeSettings are the apache/kafka image's settings that name the
// node, its listeners and its quorum: scripts/apache-kafka.sh sets its own
// loopback ones.
var kafkaNodeSettings = map[string]bool{
	"CLUSTER_ID": true, "KAFKA_NODE_ID": true, "KAFKA_PROCESS_ROLES": true, "KAFKA_CONTROLLER_QUORUM_VOTERS": true,
	"KAFKA_LISTENERS": true, "KAFKA_ADVERTISED_LISTENERS": true, "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": true,
	"KAFKA_CONTROLLER_LISTENER_NAMES": true, "KAFKA_INTER_BROKER_LISTENER_NAME": true,
}

// composeKafkaConfig turns the kafka service's KAFKA_* environment into
// server.properties lines as the apache/kafka image does
// (KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS → group.initial.rebalance.delay.ms).
func composeKafkaConfig(s types.ServiceConfig) ([]string, error) {
	var lines []string
	for name, v := range s.Environment {
		if kafkaNodeSettings[name] {
			continue
		}
		key, ok := strings.CutPrefix(name, "KAFKA_")
		if !ok || v == nil {
			return nil, fmt.Errorf("kafka service: environment %s is not a KAFKA_* broker setting", name)
		}
		lines = append(lines, strings.ToLower(strings.ReplaceAll(key, "_", "."))+"="+*v)
	}
	sort.Strings(lines)
	return lines, nil
}

// serviceEnv is s's environment with host names mapped to local addresses.
func serviceEnv(s types.ServiceConfig, mapping *strings.Replacer) map[string]string {
	env := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			env[k] = mapping.Replace(*v)
		}
	}
	return env
}

// processEnv is this process's environment without any NERSTREAM_* or AWS_*
// variable, plus env: a service sees only what the compose file gives it.
func processEnv(env map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "NERSTREAM_") || strings.HasPrefix(kv, "AWS_") {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// mapVolumes maps every argument under a bind mount's target to its source.
func mapVolumes(s types.ServiceConfig, args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind && (a == v.Target || strings.HasPrefix(a, v.Target+"/")) {
				out[i] = v.Source + strings.TrimPrefix(a, v.Target)
			}
		}
	}
	return out
}

// startComposeMinIO runs the minio service's command with its credentials:
// the data volume in dir, the ports on loopback, plain HTTP as in compose.
func startComposeMinIO(t *testing.T, s types.ServiceConfig, dir string) *minioServer {
	t.Helper()
	bin := minioBinary(t)
	env := serviceEnv(s, strings.NewReplacer())
	m := &minioServer{User: env["MINIO_ROOT_USER"], Pass: env["MINIO_ROOT_PASSWORD"]}
	if m.User == "" || m.Pass == "" {
		t.Fatal("minio service: MINIO_ROOT_USER or MINIO_ROOT_PASSWORD missing")
	}
	addr := freeAddr(t)
	m.URL = "http://" + addr
	var args []string
	for _, a := range s.Command {
		switch {
		case a == "/data": // volume minio-data:/data
			a = filepath.Join(dir, "minio-data")
		case strings.HasPrefix(a, ":"):
			a = freeAddr(t)
		}
		args = append(args, a)
	}
	args = append(args, "--address", addr) // the image listens on :9000
	log, err := os.Create(filepath.Join(dir, "minio.log"))
	if err != nil {
		t.Fatal(err)
	}
	m.cmd, m.log = exec.Command(bin, args...), log
	m.cmd.Env = processEnv(map[string]string{"MINIO_ROOT_USER": m.User, "MINIO_ROOT_PASSWORD": m.Pass, "HOME": dir, "MINIO_UPDATE": "off"})
	m.cmd.Stdout, m.cmd.Stderr = log, log
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- m.cmd.Wait() }()
	t.Cleanup(func() {
		m.cmd.Process.Kill()
		<-exited
		log.Close()
	})
	deadline := time.Now().Add(60 * time.Second)
	for { // the healthcheck `mc ready local`
		select {
		case err := <-exited:
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("minio %v exited: %v\n%s", args, err, b)
		default:
		}
		resp, err := http.Get(m.URL + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("minio %v not ready within 60s: %v", args, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// recorder is a stand-in for a tool the init scripts call: it appends its
// arguments to $NERSTREAM_COMPOSE_RECORD, one invocation a line, each
// argument NUL-terminated.
const recorder = `#!/bin/sh
for a in "$@"; do printf '%s\0' "$a"; done >>"$NERSTREAM_COMPOSE_RECORD"
printf '\n' >>"$NERSTREAM_COMPOSE_RECORD"
`

// runInitScript runs a one-shot service's `entrypoint: [/bin/sh, -c]`
// script with its environment, tool (a path or a command on PATH) replaced
// by the recorder, and returns the recorded invocations.
func runInitScript(t *testing.T, ctx context.Context, s types.ServiceConfig, tool string, mapping *strings.Replacer, dir string) [][]string {
	t.Helper()
	if len(s.Entrypoint) != 2 || s.Entrypoint[0] != "/bin/sh" || s.Entrypoint[1] != "-c" || len(s.Command) != 1 {
		t.Fatalf("%s: entrypoint %v command %v, want a /bin/sh -c script", s.Name, s.Entrypoint, s.Command)
	}
	bin := filepath.Join(dir, s.Name+"-bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	shim := filepath.Join(bin, filepath.Base(tool))
	if err := os.WriteFile(shim, []byte(recorder), 0o755); err != nil {
		t.Fatal(err)
	}
	script := mapping.Replace(s.Command[0])
	if strings.Contains(tool, "/") {
		if !strings.Contains(script, tool) {
			t.Fatalf("%s: script does not call %s:\n%s", s.Name, tool, script)
		}
		script = strings.ReplaceAll(script, tool, shim)
	}
	record := filepath.Join(dir, s.Name+".record")
	env := serviceEnv(s, mapping)
	env["NERSTREAM_COMPOSE_RECORD"] = record
	env["PATH"] = bin + ":" + os.Getenv("PATH")
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	cmd.Env = processEnv(env)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", s.Name, err, out)
	}
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatalf("%s: never called %s: %v", s.Name, tool, err)
	}
	var calls [][]string
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		calls = append(calls, strings.Split(strings.TrimSuffix(line, "\x00"), "\x00"))
	}
	return calls
}

// kafkaTopics performs one recorded kafka-topics.sh invocation (--create
// [--if-not-exists] --topic T --partitions N --replication-factor R
// [--config k=v]..., or --describe --topic T) against the broker at addr,
// which must be the address its --bootstrap-server maps to.
func kafkaTopics(ctx context.Context, addr string, args []string) error {
	var create, describe, ifNotExists bool
	var bootstrap, topic string
	partitions, rf := int32(-1), int16(-1)
	configs := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs a value", a)
			}
			i++
			return args[i], nil
		}
		var v string
		var err error
		switch a {
		case "--create":
			create = true
		case "--describe":
			describe = true
		case "--if-not-exists":
			ifNotExists = true
		case "--bootstrap-server", "--topic", "--partitions", "--replication-factor", "--config":
			if v, err = val(); err != nil {
				return err
			}
			switch a {
			case "--bootstrap-server":
				bootstrap = v
			case "--topic":
				topic = v
			case "--partitions":
				n, err := strconv.ParseInt(v, 10, 32)
				if err != nil {
					return fmt.Errorf("--partitions %q: %w", v, err)
				}
				partitions = int32(n)
			case "--replication-factor":
				n, err := strconv.ParseInt(v, 10, 16)
				if err != nil {
					return fmt.Errorf("--replication-factor %q: %w", v, err)
				}
				rf = int16(n)
			case "--config":
				key, value, ok := strings.Cut(v, "=")
				if !ok {
					return fmt.Errorf("--config %q is not key=value", v)
				}
				configs[key] = value
			}
		default:
			return fmt.Errorf("option %q is not one the test performs", a)
		}
	}
	if bootstrap != addr {
		return fmt.Errorf("--bootstrap-server %q is not the kafka service (kafka:9092 → %s)", bootstrap, addr)
	}
	if topic == "" || create == describe {
		return errors.New("want one of --create and --describe, and --topic")
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	if describe { // the topic is known to the broker, with partitions
		for {
			req := kmsg.NewPtrMetadataRequest()
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(topic)
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				return err
			}
			if len(resp.Topics) != 1 {
				return fmt.Errorf("metadata of %s from %s: %d topics", topic, addr, len(resp.Topics))
			}
			err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
			if err == nil && len(resp.Topics[0].Partitions) > 0 {
				return nil
			}
			if err != nil && !kerr.IsRetriable(err) {
				return fmt.Errorf("describe %s on %s: %w", topic, addr, err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("describe %s on %s: %v (%w)", topic, addr, err, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, rf
	for k, v := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, r := range resp.Topics {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil && !(ifNotExists && errors.Is(err, kerr.TopicAlreadyExists)) {
			return fmt.Errorf("create %s on %s: %w", topic, addr, err)
		}
	}
	return nil
}

// mc performs the recorded `mc alias set NAME URL USER PASS` and `mc mb
// [--ignore-existing] NAME/BUCKET` invocations through S3.
func mc(ctx context.Context, calls [][]string) error {
	type alias struct{ url, user, pass string }
	aliases := map[string]alias{}
	for _, c := range calls {
		switch {
		case len(c) == 6 && c[0] == "alias" && c[1] == "set":
			aliases[c[2]] = alias{c[3], c[4], c[5]}
		case len(c) >= 2 && c[0] == "mb":
			ignore := len(c) == 3 && c[1] == "--ignore-existing"
			if len(c) == 3 && !ignore || len(c) > 3 {
				return fmt.Errorf("mc %v: not an invocation the test performs", c)
			}
			name, bucket, ok := strings.Cut(c[len(c)-1], "/")
			a, known := aliases[name]
			if !ok || !known || bucket == "" {
				return fmt.Errorf("mc %v: no alias/bucket", c)
			}
			s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(a.url), UsePathStyle: true,
				Credentials: credentials.NewStaticCredentialsProvider(a.user, a.pass, "")})
			_, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
			var owned *s3types.BucketAlreadyOwnedByYou
			if err != nil && !(ignore && errors.As(err, &owned)) {
				return fmt.Errorf("mc %v: create bucket %s on %s: %w", c, bucket, a.url, err)
			}
		default:
			return fmt.Errorf("mc %v: not an invocation the test performs", c)
		}
	}
	return nil
}

// waitFor polls cond every 200 ms until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() (bool, string)) {
	t.Helper()
	for {
		ok, state := cond()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting until %s: %v (last: %s)", what, ctx.Err(), state)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

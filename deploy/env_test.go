package deploy

import (
	"sort"
	"strings"
	"testing"
)

// workerEnv lists the environment twins of the `worker run` flags plus the
// Kafka security settings, as agreed for every deployment artefact.
var workerEnv = []string{
	"NERSTREAM_BROKERS", "NERSTREAM_TOPIC", "NERSTREAM_MODEL", "NERSTREAM_OUT",
	"NERSTREAM_GROUP", "NERSTREAM_FROM", "NERSTREAM_DEVICE", "NERSTREAM_BATCH",
	"NERSTREAM_DLQ_TOPIC", "NERSTREAM_METRICS_ADDR", "NERSTREAM_FLUSH_RECORDS",
	"NERSTREAM_FLUSH_INTERVAL", "NERSTREAM_SHUTDOWN_TIMEOUT",
	"NERSTREAM_KAFKA_TLS_CA", "NERSTREAM_KAFKA_TLS_CERT", "NERSTREAM_KAFKA_TLS_KEY",
	"NERSTREAM_KAFKA_SASL_MECHANISM", "NERSTREAM_KAFKA_SASL_USERNAME",
	"NERSTREAM_KAFKA_SASL_PASSWORD",
}

// producerEnv lists the environment twins of the `producer` flags.
var producerEnv = []string{
	"NERSTREAM_BROKERS", "NERSTREAM_TOPIC", "NERSTREAM_PARTITIONS",
	"NERSTREAM_REPLICATION_FACTOR", "NERSTREAM_MANIFEST",
}

// awsEnv lists the standard AWS SDK variables used for S3 credentials.
var awsEnv = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"}

// runtimeEnv lists variables read by the runtime rather than by flags: the
// ONNX Runtime library path.
var runtimeEnv = []string{"ONNXRUNTIME_LIB"}

// knownEnv is the union of every agreed name.
var knownEnv = func() map[string]bool {
	m := map[string]bool{}
	for _, list := range [][]string{workerEnv, producerEnv, awsEnv, runtimeEnv} {
		for _, n := range list {
			m[n] = true
		}
	}
	return m
}()

// workerFlags maps each `worker run` flag to its env twin.
var workerFlags = flagsOf(workerEnv)

// producerFlags maps each `producer` flag to its env twin, plus the flags
// without one.
var producerFlags = func() map[string]string {
	m := flagsOf(producerEnv)
	m["--rejects"] = ""
	return m
}()

// flagsOf derives "--dlq-topic" from "NERSTREAM_DLQ_TOPIC" and so on.
func flagsOf(env []string) map[string]string {
	m := map[string]string{}
	for _, n := range env {
		if strings.HasPrefix(n, "NERSTREAM_KAFKA_") {
			continue // security settings have no flag in the agreed command line
		}
		f := "--" + strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(n, "NERSTREAM_")), "_", "-")
		m[f] = n
	}
	return m
}

// unknownEnv returns the names that are not agreed env names, sorted.
func unknownEnv(names []string) []string {
	var bad []string
	for _, n := range names {
		if !knownEnv[n] {
			bad = append(bad, n)
		}
	}
	sort.Strings(bad)
	return bad
}

// unknownFlags returns the "--flag" arguments in args that are not in flags.
func unknownFlags(args []string, flags map[string]string) []string {
	var bad []string
	for _, a := range args {
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name, _, _ := strings.Cut(a, "=")
		if _, ok := flags[name]; !ok {
			bad = append(bad, name)
		}
	}
	return bad
}

func TestFlagNames(t *testing.T) {
	want := map[string]string{
		"--dlq-topic":        "NERSTREAM_DLQ_TOPIC",
		"--metrics-addr":     "NERSTREAM_METRICS_ADDR",
		"--shutdown-timeout": "NERSTREAM_SHUTDOWN_TIMEOUT",
		"--flush-records":    "NERSTREAM_FLUSH_RECORDS",
	}
	for f, env := range want {
		if got := workerFlags[f]; got != env {
			t.Errorf("workerFlags[%s] = %q, want %q", f, got, env)
		}
	}
	if _, ok := workerFlags["--kafka-tls-ca"]; ok {
		t.Error("security env names must not become flags")
	}
	if got := unknownFlags([]string{"run", "--from", "earliest", "--device=cuda", "--bogus"}, workerFlags); len(got) != 1 || got[0] != "--bogus" {
		t.Errorf("unknownFlags = %v, want [--bogus]", got)
	}
	if got := unknownEnv([]string{"NERSTREAM_TOPIC", "NERSTREAM_TOPICS", "AWS_REGION"}); len(got) != 1 || got[0] != "NERSTREAM_TOPICS" {
		t.Errorf("unknownEnv = %v, want [NERSTREAM_TOPICS]", got)
	}
}

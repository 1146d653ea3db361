package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/nerstream/nerstream/internal/apachekafka"
	"github.com/nerstream/nerstream/internal/metrics"
	"github.com/nerstream/nerstream/internal/queue"
	"github.com/nerstream/nerstream/internal/sink"
	"github.com/nerstream/nerstream/internal/testcert"
)

// TestSecretsNeverLeak plants a distinct secret in every credential setting
// (SASL password by environment and by flag, AWS access key, secret key and
// session token, a shared credentials file, the TLS client key) and runs the
// producer and the worker three ways: healthy (mutual TLS + SCRAM-SHA-512 to
// Kafka, S3 with environment keys, a poison record dead-lettered), with a
// wrong SASL password given by flag, and with credentials from the shared
// file against a missing bucket. No secret may appear in any log line, error
// message, help text or /metrics output. On kfake and on Apache Kafka (the
// shared secure node's SASL_SSL listener, which requires a client
// certificate too; its SCRAM password is the planted one).
func TestSecretsNeverLeak(t *testing.T) {
	for _, kind := range brokerKinds {
		t.Run(string(kind), func(t *testing.T) { testSecretsNeverLeak(t, kind) })
	}
}

func testSecretsNeverLeak(t *testing.T, kind brokerKind) {
	bin := filepath.Join(binaries(t), "worker")
	dir := t.TempDir()
	secrets := map[string]string{}
	plant := func(setting string) string {
		s := fmt.Sprintf("planted-%s-%d", strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(setting)), time.Now().UnixNano())
		secrets[setting] = s
		return s
	}
	saslPass := plant("NERSTREAM_KAFKA_SASL_PASSWORD")
	flagPass := plant("--kafka-sasl-password")
	accessKey := plant("AWS_ACCESS_KEY_ID")
	secretKey := plant("AWS_SECRET_ACCESS_KEY")
	token := plant("AWS_SESSION_TOKEN")
	fileKey := plant("aws_secret_access_key (shared credentials file)")

	var (
		ca    *testcert.CA
		cli   testcert.Pair
		addrs []string
		topic = "docs"
	)
	switch kind {
	case kfakeBroker:
		var err error
		if ca, err = testcert.NewCA(dir, "ca"); err != nil {
			t.Fatal(err)
		}
		srvPair, err := ca.Server("broker")
		if err != nil {
			t.Fatal(err)
		}
		if cli, err = ca.Client("worker"); err != nil {
			t.Fatal(err)
		}
		kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(500*time.Millisecond),
			kfake.TLS(testcert.ServerTLS(srvPair, ca)), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "nerstream", saslPass),
			kfake.SeedTopics(2, topic))
		if err != nil {
			t.Fatal(err)
		}
		defer kc.Close()
		addrs = kc.ListenAddrs()
	case apacheBroker:
		sec := apachekafka.SharedSecure(t)
		ca, cli, addrs = sec.CA, sec.Client, sec.SASLSSLAddrs()
		saslPass = sec.Password // the broker's user was created with it
		secrets["NERSTREAM_KAFKA_SASL_PASSWORD"] = saslPass
		topic = "docs-secrets"
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sec.CreateTopic(ctx, topic, 2); err != nil {
			t.Fatalf("create topic %s on Apache Kafka %v: %v", topic, sec.Addrs(), err)
		}
	}
	keyPEM, _ := os.ReadFile(cli.KeyFile)
	// The key's base64 body (any 40-character run of it) must not leak either.
	keyBody := strings.Join(strings.Split(strings.TrimSpace(string(keyPEM)), "\n")[1:2], "")
	secrets["TLS client key"] = keyBody[:40]
	brokers := strings.Join(addrs, ",")
	kcfg := queue.Config{Brokers: addrs, TLSCAFile: ca.CertFile, TLSCertFile: cli.CertFile, TLSKeyFile: cli.KeyFile,
		SASLMechanism: queue.SASLScramSHA512, SASLUsername: "nerstream", SASLPassword: saslPass}

	backend := s3mem.New()
	if err := backend.CreateBucket("nerstream"); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer s3srv.Close()
	out := "s3://nerstream/annotations?endpoint=" + s3srv.URL + "&use_path_style=true&region=us-east-1"

	baseEnv := func(extra ...string) []string {
		env := []string{}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "NERSTREAM_") {
				env = append(env, kv)
			}
		}
		env = append(env, "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE="+filepath.Join(dir, "none"),
			"NERSTREAM_BROKERS="+brokers, "NERSTREAM_KAFKA_TLS_CA="+ca.CertFile,
			"NERSTREAM_KAFKA_TLS_CERT="+cli.CertFile, "NERSTREAM_KAFKA_TLS_KEY="+cli.KeyFile,
			"NERSTREAM_KAFKA_SASL_MECHANISM=scram-sha-512", "NERSTREAM_KAFKA_SASL_USERNAME=nerstream")
		return append(env, extra...)
	}
	envKeys := []string{"NERSTREAM_KAFKA_SASL_PASSWORD=" + saslPass, "AWS_ACCESS_KEY_ID=" + accessKey,
		"AWS_SECRET_ACCESS_KEY=" + secretKey, "AWS_SESSION_TOKEN=" + token}
	args := func(extra ...string) []string {
		return append([]string{"run", "--topic", topic, "--group", "secrets", "--model", testModel, "--batch", "8",
			"--intra-threads", "1", "--flush-records", "2", "--flush-interval", "3s", "--idle-grace", "500ms",
			"--idle-interval", "300ms", "--session-timeout", "2s", "--heartbeat-interval", "300ms", "--join-backoff", "200ms",
			"--log-level", "debug"}, extra...)
	}
	var transcript bytes.Buffer // everything any run printed, and /metrics

	// 1. Healthy run.
	logPath := filepath.Join(dir, "healthy.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	maddr := freeAddr(t)
	cmd := exec.Command(bin, args("--out", out, "--metrics-addr", maddr)...)
	cmd.Env = baseEnv(envKeys...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	ctx := context.Background()
	// The producer publishes six one-document batches with the same settings.
	var jsonl bytes.Buffer
	for _, d := range testDocs(t, 6) {
		line, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		jsonl.Write(append(line, '\n'))
	}
	docsFile := filepath.Join(dir, "docs.jsonl")
	if err := os.WriteFile(docsFile, jsonl.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	prod := exec.Command(filepath.Join(binaries(t), "producer"), "jsonl", "--topic", topic, "--create-topic=false",
		"--batch-docs", "1", "--progress", "off", docsFile)
	prod.Env = baseEnv(envKeys...)
	prodOut, err := prod.CombinedOutput()
	transcript.Write(prodOut)
	if err != nil {
		t.Fatalf("producer over TLS + SCRAM to %s: %v\n%s", brokers, err, prodOut)
	}
	pub, err := queue.NewPublisher(ctx, nil, topic, queue.WithConfig(kcfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, queue.Message{Key: []byte("poison"), Value: []byte("not a batch")}); err != nil {
		t.Fatal(err)
	}
	pub.Close()
	// Wait on the worker's own counters: three uploads and a dead letter.
	metricsURL := "http://" + maddr + "/metrics"
	deadline := time.Now().Add(90 * time.Second)
	for {
		s, err := metrics.Scrape(ctx, maddr)
		if err == nil && s[metrics.NameUploads] >= 3 && s[metrics.NameDeadLetters] >= 1 {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("healthy run did not upload and dead-letter within 90s (scrape: %v):\n%s", err, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	metricsText := scrape(t, metricsURL)
	if !bytes.Contains(metricsText, []byte("nerstream_uploads_total")) {
		t.Fatalf("/metrics lacks nerstream_uploads_total:\n%s", metricsText)
	}
	transcript.Write(metricsText)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("healthy worker exited with %v", err)
	}
	logf.Close()
	b, _ := os.ReadFile(logPath)
	transcript.Write(b)
	// The run really used the credentials: output exists in the bucket.
	t.Setenv("AWS_ACCESS_KEY_ID", accessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secretKey)
	st, err := sink.OpenBucket(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.ReadAll(ctx, modelDir(t))
	st.Close()
	if err != nil || len(rows) == 0 {
		t.Fatalf("healthy run wrote no rows (%v)", err)
	}

	// 2. Wrong SASL password, given by flag: a start-up error naming the broker.
	cmd = exec.Command(bin, args("--out", out, "--metrics-addr", "", "--kafka-sasl-password", flagPass)...)
	cmd.Env = baseEnv(envKeys[1:]...)
	res, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(res), addrs[0]) {
		t.Fatalf("wrong SASL password: err %v, want a failure naming the broker:\n%s", err, res)
	}
	transcript.Write(res)
	t.Logf("wrong SASL password: %s", lastLine(res))

	// 3. Credentials from the shared file (the SDK chain), missing bucket.
	credFile := filepath.Join(dir, "credentials")
	os.WriteFile(credFile, fmt.Appendf(nil, "[default]\naws_access_key_id = chain-user\naws_secret_access_key = %s\n", fileKey), 0o600)
	missing := strings.Replace(out, "s3://nerstream/", "s3://no-such-bucket/", 1)
	cmd = exec.Command(bin, args("--out", missing, "--metrics-addr", "")...)
	cmd.Env = baseEnv("NERSTREAM_KAFKA_SASL_PASSWORD="+saslPass, "AWS_SHARED_CREDENTIALS_FILE="+credFile)
	done := make(chan struct{})
	var res3 []byte
	go func() { res3, _ = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("worker on a missing bucket did not stop within 90s:\n%s", res3)
	}
	if cmd.ProcessState.ExitCode() == 0 || !strings.Contains(string(res3), "no-such-bucket") {
		t.Fatalf("missing bucket: exit %d, want a failure naming the bucket:\n%s", cmd.ProcessState.ExitCode(), res3)
	}
	transcript.Write(res3)

	// 4. Help text with every secret in the environment.
	cmd = exec.Command(bin, "run", "-h")
	cmd.Env = baseEnv(append(envKeys, "AWS_SHARED_CREDENTIALS_FILE="+credFile)...)
	help, _ := cmd.CombinedOutput()
	if !bytes.Contains(help, []byte("--kafka-sasl-password")) {
		t.Fatalf("help text lacks the flags:\n%s", help)
	}
	transcript.Write(help)

	all := transcript.String()
	lines := strings.Count(all, "\n")
	for setting, s := range secrets {
		for _, variant := range []string{s, base64.StdEncoding.EncodeToString([]byte(s))} {
			if i := strings.Index(all, variant); i >= 0 {
				lo, hi := max(0, i-200), min(len(all), i+len(variant)+50)
				t.Errorf("secret of %s leaked:\n…%s…", setting, all[lo:hi])
			}
		}
	}
	t.Logf("%d secrets planted, none in %d lines of logs, errors, help and /metrics", len(secrets), lines)
}

// lastLine returns the last non-empty line of out.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

package testcert

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
)

func TestChainVerifies(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewCA(dir, "other")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Server("server")
	if err != nil {
		t.Fatal(err)
	}
	cli, err := ca.Client("alice")
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(srv.TLS.Certificate[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool, DNSName: "127.0.0.1"}); err != nil {
		t.Fatalf("server cert does not verify for 127.0.0.1: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: other.Pool, DNSName: "127.0.0.1"}); err == nil {
		t.Fatal("server cert verifies against an unrelated CA")
	}
	cl, _ := x509.ParseCertificate(cli.TLS.Certificate[0])
	if _, err := cl.Verify(x509.VerifyOptions{Roots: ca.Pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("client cert: %v", err)
	}
	if c := ServerTLS(srv, ca); c.ClientAuth != tls.RequireAndVerifyClientCert || c.ClientCAs == nil {
		t.Fatal("ServerTLS with a client CA does not require client certificates")
	}
}

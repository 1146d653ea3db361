// Package testcert makes throw-away X.509 material for tests: a CA, server
// certificates for the loopback addresses and client certificates for mutual
// TLS, written as PEM files into a directory the test owns. Nothing here is
// meant for production use: keys are ECDSA P-256, valid for one day.
package testcert

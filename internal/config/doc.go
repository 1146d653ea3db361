// Package config binds command-line flags to environment variables so every
// setting of the producer and the worker can be given either way, with the
// same names in docker-compose, Kubernetes and the shell.
//
// A flag --flush-records has the environment twin NERSTREAM_FLUSH_RECORDS. A
// flag given on the command line wins over its environment variable, which
// wins over the default.
package config

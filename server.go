// Command stacker is the GraphQL gateway in front of the case-management
// services. `go run .` starts it with embedded demo services; see README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/floor"
	"github.com/stacker/stacker/gateway"
	"github.com/stacker/stacker/graph"
	"github.com/stacker/stacker/loadtest"
	"github.com/stacker/stacker/rehearsal"
	"github.com/stacker/stacker/schemacheck"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(int(ee)) // the command has said why on stderr already
		}
		fmt.Fprintln(os.Stderr, "stacker:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// exitError is a command's exit code when it has reported its own outcome,
// as `schema check` does.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// usageError is a wrong command line: exit code 2, as flag does.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `usage: stacker [command]

commands:
  serve   run the gateway (the default); with no STACKER_<SERVICE>_URL set it
          starts the eight demo services in the same process
  demo    run only the eight demo services, printing their URLs as
          STACKER_<SERVICE>_URL=... lines (for benchmarks that must count
          the gateway's CPU alone)
  floor   the case board without a gateway: the same upstream calls and
          answer, hand-written, for the load command to measure beside the
          gateway (scripts/loadbench.sh -compare)
  load    closed-loop load against a running gateway (go run . load -h)
  rehearse
          rolling restart rehearsal: this binary as three replicas behind
          haproxy, under load, restarted one by one (go run . rehearse -h)
  schema  print, diff and check the schema, validate front-end operations
          (go run . schema -h)
  config  list the environment variables Stacker reads (config vars), or
          check the environment's configuration without serving (config check)
`

// run is the whole program: main only supplies the process's environment, so
// tests can start a complete server with their own.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 1 {
		cmd = args[1]
	}
	switch cmd {
	case "serve":
		return gateway.Run(ctx, getenv, stdout, stderr)
	case "demo":
		return gateway.RunDemo(ctx, getenv, stdout, stderr)
	case "floor":
		return floor.Run(ctx, getenv, stdout, stderr)
	case "load":
		return loadtest.Run(ctx, args[2:], stdout, stderr)
	case "rehearse":
		return rehearsal.Main(ctx, args[2:], stdout, stderr)
	case "schema":
		// Against the schema this binary serves.
		schema := graph.NewExecutableSchema(graph.Config{}).Schema()
		if code := schemacheck.Run(ctx, args[2:], schema, stdout, stderr); code != 0 {
			return exitError(code)
		}
		return nil
	case "config":
		if code := config.Run(args[2:], getenv, stdout, stderr); code != 0 {
			return exitError(code)
		}
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q\n%s", cmd, usage)}
	}
}

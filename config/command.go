package config

import (
	"fmt"
	"io"
	"strings"
)

const commandUsage = `usage: stacker config vars|check

  vars   print every environment variable Stacker reads, one a line
  check  read the configuration from the environment as the gateway would
         at start, and report every problem with it (exit status 1) or none
`

// Run is the `config` command, for checking deployment files against the
// code without starting a gateway: `vars` prints Variables, `check` runs
// Load on getenv. It returns the exit status: 0 fine, 1 a configuration
// that Load refuses, 2 a wrong command line.
func Run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprint(stderr, commandUsage)
		return 2
	}
	switch args[0] {
	case "vars":
		fmt.Fprintln(stdout, strings.Join(Variables(), "\n"))
		return 0
	case "check":
		c, err := Load(getenv)
		if err != nil {
			fmt.Fprintf(stderr, "configuration: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "configuration ok (%s)\n", c.Env)
		return 0
	default:
		fmt.Fprint(stderr, commandUsage)
		return 2
	}
}

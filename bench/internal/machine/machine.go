// Package machine describes the machine a benchmark runs on, for the
// report's header.
package machine

import (
	"os"
	"strings"
)

// CPUModel is the processor's model name from /proc/cpuinfo, or "unknown
// CPU" where there is none.
func CPUModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			return strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
		}
	}
	return "unknown CPU"
}

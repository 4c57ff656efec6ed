package client_test

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// TestGeneratedClientIsCurrent regenerates the client from http/openapi.json
// as "go generate" does and fails if the result differs from the committed
// client.gen.go: the client cannot drift from the document.
func TestGeneratedClientIsCurrent(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH, so the client cannot be generated to compare: %v", err)
	}
	cmd := exec.Command(goTool, "tool", "oapi-codegen", "-config", "oapi-codegen.yaml", "../http/openapi.json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	fresh, err := cmd.Output()
	if err != nil {
		t.Fatalf("go tool oapi-codegen: %v\n%s", err, stderr.Bytes())
	}
	committed, err := os.ReadFile("client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, committed) {
		t.Errorf("client.gen.go is not what http/openapi.json generates; run 'go generate ./client' and commit the result")
	}
}

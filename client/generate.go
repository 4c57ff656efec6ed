// Package client is a client of Steward's REST API, generated from the
// OpenAPI document (http/openapi.json) by oapi-codegen, with the few
// conventions every caller needs on top (New, Check). The CLI's API
// commands use it; so will the Terraform provider.
//
// The generated code is client.gen.go. After a change to the document, run
//
//	go generate ./client
//
// and commit the result: TestGeneratedClientIsCurrent fails while the file
// and the document disagree. oapi-codegen is a tool dependency of the
// module (the tool line of go.mod), so the version is pinned there and
// "go generate" needs nothing installed.
//
// Every operation of the document has two methods on ClientWithResponses:
// OperationWithResponse (typed request and answer; this is what callers
// use) and, for those with a body, OperationWithBodyWithResponse (a raw
// body). The answer's JSON200 (JSON201, ...) field holds the decoded
// success; pass the answer and the error to Check first. An answer that is
// a stream (the CSV export) is read through the raw method (Operation,
// returning the *http.Response) of a NewStreaming client, checked by
// CheckResponse.
package client

//go:generate go tool oapi-codegen -config oapi-codegen.yaml -o client.gen.go ../http/openapi.json

// Package interop holds only tests: they publish an image with the real
// clearcutt pipeline to Debian's registry process and check that the
// upstream cosign, syft and grype CLIs accept what it produced, and that
// every command of docs/audit-guide.md runs as written.
package interop

package fleet

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestIdentitySigner: the signing runs of the publish and the rescan
// workflow, with clearcutt.yaml's defaults where a field is unset and the
// given values where it is set (a workflow of another repository called at
// a commit).
func TestIdentitySigner(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	const issuer = "https://token.actions.githubusercontent.com"
	bare := Identity{Issuer: issuer, Repository: "acme/base-images", Workflow: ".github/workflows/publish.yml", Ref: "refs/heads/main"}
	pinned := Identity{Issuer: issuer, Repository: "acme/base-images", Workflow: ".github/workflows/publish.yml", Ref: "refs/heads/main",
		WorkflowRepository: "clearcutt/clearcutt", WorkflowRef: sha, RescanWorkflow: ".github/workflows/nightly.yml"}
	for _, tc := range []struct {
		name string
		id   Identity
		w    SigningWorkflow
		want WorkflowSigner
		san  string
	}{
		{"publish, defaults", bare, PublishWorkflow,
			WorkflowSigner{issuer, "acme/base-images", "refs/heads/main", "acme/base-images", "acme/base-images/.github/workflows/publish.yml@refs/heads/main"},
			"https://github.com/acme/base-images/.github/workflows/publish.yml@refs/heads/main"},
		{"rescan, defaults", bare, RescanWorkflow,
			WorkflowSigner{issuer, "acme/base-images", "refs/heads/main", "acme/base-images", "acme/base-images/.github/workflows/rescan.yml@refs/heads/main"},
			"https://github.com/acme/base-images/.github/workflows/rescan.yml@refs/heads/main"},
		{"publish, called by commit", pinned, PublishWorkflow,
			WorkflowSigner{issuer, "acme/base-images", "refs/heads/main", "clearcutt/clearcutt", "clearcutt/clearcutt/.github/workflows/publish.yml@" + sha},
			"https://github.com/clearcutt/clearcutt/.github/workflows/publish.yml@" + sha},
		{"rescan, called by commit", pinned, RescanWorkflow,
			WorkflowSigner{issuer, "acme/base-images", "refs/heads/main", "clearcutt/clearcutt", "clearcutt/clearcutt/.github/workflows/nightly.yml@" + sha},
			"https://github.com/clearcutt/clearcutt/.github/workflows/nightly.yml@" + sha},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.id.Signer(tc.w)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Signer (-want +got):\n%s", diff)
			}
			if got.BuildSignerURI() != tc.san {
				t.Errorf("BuildSignerURI = %s, want %s", got.BuildSignerURI(), tc.san)
			}
			if got.SourceRepositoryURI() != "https://github.com/acme/base-images" {
				t.Errorf("SourceRepositoryURI = %s", got.SourceRepositoryURI())
			}
		})
	}
}

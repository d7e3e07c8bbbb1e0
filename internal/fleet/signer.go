package fleet

import "strings"

// gitHubURL prefixes a repository path (owner/name) in the URIs GitHub
// Actions' Fulcio certificates carry.
const gitHubURL = "https://github.com/"

// SigningWorkflow is one of the fleet's two signing workflows.
type SigningWorkflow int

const (
	// PublishWorkflow is identity.workflow, which signs the images and
	// all of their evidence.
	PublishWorkflow SigningWorkflow = iota
	// RescanWorkflow is identity.rescanWorkflow, which signs fresh
	// vulnerability scans and VEX.
	RescanWorkflow
)

// WorkflowSigner is a run of one of the fleet's signing workflows as GitHub
// Actions names it: the claims of the run's OIDC token, and through them
// the identity Fulcio certifies for what the run signs.
type WorkflowSigner struct {
	// Issuer is the OIDC issuer: the token's iss, the certificate's issuer.
	Issuer string
	// Repository is the fleet repository, owner/name: the token's
	// repository.
	Repository string
	// Ref is the fleet repository's ref: the token's ref, the certificate's
	// Source Repository Ref.
	Ref string
	// WorkflowRepository is the repository, owner/name, that holds the
	// workflow.
	WorkflowRepository string
	// JobWorkflowRef is <workflowRepository>/<workflow>@<workflowRef>: the
	// token's job_workflow_ref.
	JobWorkflowRef string
}

// BuildSignerURI is the certificate's Build Signer URI, its subject
// alternative name: https://github.com/<JobWorkflowRef>.
func (s WorkflowSigner) BuildSignerURI() string { return gitHubURL + s.JobWorkflowRef }

// SourceRepositoryURI is the certificate's Source Repository URI:
// https://github.com/<Repository>.
func (s WorkflowSigner) SourceRepositoryURI() string { return gitHubURL + s.Repository }

// Signer is the run of workflow w that signs for the fleet, with the
// defaults of clearcutt.yaml where a field is empty: workflowRepository is
// repository, workflowRef is ref, rescanWorkflow is DefaultRescanWorkflow.
// Its job_workflow_ref names the workflow at workflowRef, a full git ref or
// the 40-hex commit of a workflow called by commit.
func (id Identity) Signer(w SigningWorkflow) WorkflowSigner {
	wfRepo := id.WorkflowRepository
	if wfRepo == "" {
		wfRepo = id.Repository
	}
	wfRef := id.WorkflowRef
	if wfRef == "" {
		wfRef = id.Ref
	}
	wf := id.Workflow
	if w == RescanWorkflow {
		wf = id.RescanWorkflow
		if wf == "" {
			wf = DefaultRescanWorkflow
		}
	}
	return WorkflowSigner{
		Issuer:             id.Issuer,
		Repository:         id.Repository,
		Ref:                id.Ref,
		WorkflowRepository: wfRepo,
		JobWorkflowRef:     wfRepo + "/" + strings.TrimPrefix(wf, "/") + "@" + wfRef,
	}
}

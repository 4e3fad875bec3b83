package patch

import (
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// strictOutcome turns the unknown and duplicate field findings of a JSON, merge or strategic
// merge patch into warnings (fieldValidation=Warn) or into the reference apiserver's 422
// Invalid (Strict), whose single error sits on field "patch" with value as its value.
func strictOutcome(directive string, findings []error, value string) ([]string, error) {
	if len(findings) == 0 || directive == metav1.FieldValidationIgnore {
		return nil, nil
	}
	if directive == metav1.FieldValidationStrict {
		return nil, newInvalidPatch(value, runtime.NewStrictDecodingError(findings).Error())
	}
	var warnings []string
	for _, f := range findings {
		warnings = append(warnings, splitYAMLErrors(f.Error())...)
	}
	return warnings, nil
}

// strictApplyOutcome does the same for the duplicate keys of an apply patch, which the reference
// reports as 400 BadRequest under Strict.
func strictApplyOutcome(directive string, finding error) ([]string, error) {
	if finding == nil || directive == metav1.FieldValidationIgnore {
		return nil, nil
	}
	if directive == metav1.FieldValidationStrict {
		return nil, apierrors.NewBadRequest("error strict decoding YAML: " + finding.Error())
	}
	return splitYAMLErrors(finding.Error()), nil
}

// yamlErrorPrefixes are the beginnings of YAML strict decoding errors, which list one finding
// per line.
var yamlErrorPrefixes = []string{
	"error converting YAML to JSON: yaml: unmarshal errors:\n",
	"yaml: unmarshal errors:\n",
}

// splitYAMLErrors splits a YAML strict decoding error into one warning per finding
// (`line 10: key "paused" already set in map`) and returns any other error text as is.
func splitYAMLErrors(msg string) []string {
	for _, p := range yamlErrorPrefixes {
		if rest, ok := strings.CutPrefix(msg, p); ok {
			lines := strings.Split(rest, "\n")
			for i, l := range lines {
				lines[i] = strings.TrimSpace(l)
			}
			return lines
		}
	}
	return []string{msg}
}

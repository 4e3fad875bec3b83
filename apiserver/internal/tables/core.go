package tables

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// namespaceConvertor prints namespaces with their phase (Active, Terminating).
var namespaceConvertor = &Convertor{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Status", "string", "The status of the namespace"),
		ageColumn(),
	},
	row: cellsOf(func(ns *corev1.Namespace, now time.Time) []any {
		return []any{ns.Name, string(ns.Status.Phase), since(ns.CreationTimestamp, now)}
	}),
}

// configMapConvertor prints configmaps with the number of data and binaryData keys.
var configMapConvertor = &Convertor{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Data", "string", corev1.ConfigMap{}.SwaggerDoc()["data"]),
		ageColumn(),
	},
	row: cellsOf(func(cm *corev1.ConfigMap, now time.Time) []any {
		return []any{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), since(cm.CreationTimestamp, now)}
	}),
}

// secretConvertor prints secrets with their type and number of keys.
var secretConvertor = &Convertor{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Type", "string", corev1.Secret{}.SwaggerDoc()["type"]),
		column("Data", "string", corev1.Secret{}.SwaggerDoc()["data"]),
		ageColumn(),
	},
	row: cellsOf(func(s *corev1.Secret, now time.Time) []any {
		return []any{s.Name, string(s.Type), int64(secretKeys(s)), since(s.CreationTimestamp, now)}
	}),
}

// secretKeys counts the distinct keys of data and stringData; the apiserver merges stringData into
// data on write, so for stored secrets this is len(data).
func secretKeys(s *corev1.Secret) int {
	n := len(s.Data)
	for k := range s.StringData {
		if _, dup := s.Data[k]; !dup {
			n++
		}
	}
	return n
}

// serviceAccountConvertor prints serviceaccounts with the number of referenced secrets.
var serviceAccountConvertor = &Convertor{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Secrets", "string", corev1.ServiceAccount{}.SwaggerDoc()["secrets"]),
		ageColumn(),
	},
	row: cellsOf(func(sa *corev1.ServiceAccount, now time.Time) []any {
		return []any{sa.Name, int64(len(sa.Secrets)), since(sa.CreationTimestamp, now)}
	}),
}

package e2e_test

import (
	"errors"
	"fmt"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func itoa(i int) string { return fmt.Sprint(i) }

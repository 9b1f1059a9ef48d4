package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// Commands returns the operator command groups (device, cert, audit, group,
// token, and ca for the CA files) to attach to the root `fleetgate`
// command. Each call returns fresh commands with their own flag values.
func Commands() []*cobra.Command {
	return []*cobra.Command{
		deviceCommand(&options{}),
		certCommand(&options{}),
		auditCommand(&options{}),
		groupCommand(&options{}),
		foreignCACommand(&options{}),
		tokenCommand(&options{}),
		caCommand(),
		operatorCommand(),
	}
}

// group returns a command group carrying the shared flags. Run without a
// known subcommand it prints its help, or refuses an unknown one as a usage
// error (cobra would otherwise print help and exit 0).
func (o *options) group(use, short, long string) *cobra.Command {
	cmd := &cobra.Command{
		Use:           use,
		Short:         short,
		Long:          strings.TrimSpace(long) + "\n" + exitCodesHelp,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return o.withHint(cmd, usagef("unknown command %q for %q", args[0], cmd.CommandPath()))
			}
			return cmd.Help()
		},
	}
	o.addFlags(cmd)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return o.withHint(c, &usageError{err: err})
	})
	return cmd
}

// leaf returns a subcommand taking exactly the named positional arguments.
func (o *options) leaf(use, short string, argNames []string, run func(cmd *cobra.Command, args []string) error) *cobra.Command {
	return &cobra.Command{
		Use:           use,
		Short:         short,
		Long:          short + ".\n" + exitCodesHelp,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != len(argNames) {
				return o.withHint(cmd, usagef("%s takes %d argument(s) (%s), got %d",
					cmd.CommandPath(), len(argNames), strings.Join(argNames, " "), len(args)))
			}
			return nil
		},
		RunE: o.wrapRun(run),
	}
}

// leafOrBulk returns a subcommand taking one optional positional argument:
// the single record it acts on, or none when flags select many.
func (o *options) leafOrBulk(use, short, argName string, run func(cmd *cobra.Command, args []string) error) *cobra.Command {
	cmd := o.leaf(use, short, []string{argName}, run)
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 1 {
			return o.withHint(cmd, usagef("%s takes at most one argument (%s), got %d", cmd.CommandPath(), argName, len(args)))
		}
		return nil
	}
	return cmd
}

// requireFlag refuses an empty value of a required flag. Checked by hand
// rather than with MarkFlagRequired so that the error counts as a usage
// error (exit 2) and carries a hint.
func requireFlag(name, value string) error {
	if strings.TrimSpace(value) == "" {
		return usagef("--%s is required", name)
	}
	return nil
}

// parseKV parses repeated k=v flag values.
func parseKV(flag string, pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, usagef("--%s %q: want key=value", flag, p)
		}
		m[k] = v
	}
	return m, nil
}

#!/bin/sh
# Entrypoint of the nnstudy image.
#
# The image holds only the environment; the workflow checkout is bind-mounted
# (normally at /work, the working directory).  Put the mounted checkout first on
# PYTHONPATH so that rules and scripts import the mounted `nnstudy` package.
# Set NNSTUDY_SRC to point at a checkout mounted elsewhere.
for d in "${NNSTUDY_SRC:-}" "$PWD" /work; do
    if [ -n "$d" ] && [ -f "$d/nnstudy/__init__.py" ]; then
        case ":${PYTHONPATH:-}:" in
            *":$d:"*) ;;
            *) PYTHONPATH="$d${PYTHONPATH:+:$PYTHONPATH}"; export PYTHONPATH ;;
        esac
        break
    fi
done
if [ "$#" -eq 0 ]; then
    set -- snakemake --help
fi
exec "$@"

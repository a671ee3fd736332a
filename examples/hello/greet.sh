#!/bin/sh
echo "$GREETING: $(hostname), pid $$, $(id)"
echo "$(cat /app/stamp)"

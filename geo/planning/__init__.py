"""Planning: siting one-stop shops and routing mobile services (issue 7)."""

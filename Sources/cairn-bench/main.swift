print("cairn-bench: placeholder")

# compel build rules (filled by the compel component).

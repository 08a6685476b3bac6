# criu build rules (filled by the criu component).

# zdtm build rules (filled by the zdtm component).

"""Clear signing: what each signed message means (``spec``) and the ERC-7730 descriptors built from it."""

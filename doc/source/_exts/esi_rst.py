#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""Generated reStructuredText, parsed in place of a directive."""

from docutils.parsers.rst import Directive
from docutils import statemachine
from sphinx.util import nodes as sphinx_nodes


class GeneratedDirective(Directive):
    """A directive whose content is the lines that lines() generates."""

    has_content = False

    def lines(self):
        """The reStructuredText lines this directive stands for."""
        raise NotImplementedError

    def run(self):
        source = self.state_machine.input_lines.source(
            self.lineno - self.state_machine.input_offset - 1)
        content = statemachine.StringList(self.lines(), source=source)
        node = sphinx_nodes.nodes.section()
        node.document = self.state.document
        sphinx_nodes.nested_parse_with_titles(self.state, content, node)
        return node.children
